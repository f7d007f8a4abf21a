"""The shape of the demo: the knobs of its history and the specs its clients are written in.

A client is a ClientSpec (demo.seed.clients lists them): its blocks as
(days ago, tier hours), the balance it must end at today, and the story
it tells. The planner turns specs into dated events and the writer replays
them through the services, so adding a client is adding a spec. A client
may have a FirstAgreement before its main one (its time is then logged by
client and the services choose the agreement), and a renewing term ends
inside the history through the real renewal run.
"""

from dataclasses import dataclass
from decimal import Decimal

from agreements.models import CreditPolicy, OveragePolicy, RolloverPolicy, RoundingMode, TermEndAction

# Demo data only, documented to sign in to the seeded demo.
DEMO_PASSWORD = "blockhours-demo"  # nosec B105
SEED = 20240917
# About four months of time entries, ending today (blocks may be older: a yearly one is).
HISTORY_DAYS = 115
FIRST_TICKET_NUMBER = 24101
# A "fill" entry may use up to this much of what is left, so totals come out exact.
MAX_FILL_MINUTES = 240
# Tickets with no work for this long are shown closed, the rest open.
CLOSE_AFTER_DAYS = 10


NORMAL, AFTER_HOURS, EMERGENCY, NON_BILLABLE = "Normal", "After-hours", "Emergency", "Non-billable"


@dataclass(frozen=True)
class Person:
    username: str
    first_name: str
    last_name: str
    email: str
    receives_invoices: bool = True
    title: str = ""


@dataclass(frozen=True)
class Scripted:
    """A hand-written entry that tells part of the client's story, with its own ticket."""

    days_ago: int
    work_type: str
    minutes: int
    subject: str
    notes: str
    technician: str


@dataclass(frozen=True)
class AgreementSpec:
    name: str = "Prepaid support hours"
    threshold: int = 120
    increment: int = 15
    rounding: str = RoundingMode.UP
    overage: str = OveragePolicy.REJECT
    overage_limit: int = 0
    credit: str = CreditPolicy.ON_PAYMENT
    reload_tier_hours: int | None = None  # set: auto-reload with this tier
    work_types: tuple[str, ...] = ()  # empty: every work type
    days_ago: int | None = None  # term start; default: the first block's sale
    days_left: int | None = None  # fixed term ending this many days from today (negative: ended)
    # What the end of the term does; a renewing term is renewed by the real
    # renewal run on its invoice day and after its end, within the history.
    term_end_action: str = TermEndAction.END
    renewal_tier_hours: int | None = None
    renewal_invoice_days: int | None = None
    rollover_policy: str = RolloverPolicy.NONE
    rollover_cap_minutes: int | None = None


@dataclass(frozen=True)
class FirstAgreement:
    """An agreement placed first in its client's order (a project's hours):
    the client's time is logged by client, so the services charge it here
    while it covers the work type and has room, and to the client's main
    agreement after that. Its one block is sold when it starts; its work is
    all scripted and must leave it at `final_balance`."""

    terms: AgreementSpec
    hours: int  # the tier of its one block
    final_balance: int
    scripted: tuple["Scripted", ...] = ()


@dataclass(frozen=True)
class ClientSpec:
    name: str
    scenario: str
    billing_email: str
    billing_address: str
    contacts: tuple[Person, ...]
    blocks: tuple[tuple[int, int], ...]  # (days ago, tier hours), oldest first
    final_balance: int  # minutes left today: what this client demonstrates
    agreement: AgreementSpec = AgreementSpec()
    hourly_rate: Decimal = Decimal("100.00")
    billing_name: str = ""
    subjects: tuple[str, ...] = ()
    scripted: tuple[Scripted, ...] = ()
    currency: str = ""  # empty: the site's default
    language: str = "en"  # of the client's invoices, statements and emails; its tickets too
    # Days from an invoice's issue to its payment; hours usable when paid are
    # used from then on (0: ACH on file, paid the day it is issued).
    pays_after_days: int = 3
    seats: int = 0  # users a flat-rate agreement would cover (the MSA comparison); 0: unknown
    first: FirstAgreement | None = None  # an agreement before the main one; its time is then logged by client
    # False: all of the client's work is scripted (a renewal in the history
    # changes the balance in ways the planner's arithmetic does not follow).
    planned_work: bool = True
    # Days from a renewal invoice's issue to its payment; None: still open today.
    renewal_pays_after_days: int | None = None
