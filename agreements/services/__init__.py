"""Every change to an agreement's balance, in one place.

Each service that touches the ledger runs in one transaction that first
locks the agreement row, so concurrent writers (many technicians, the API,
a worker) queue up instead of losing updates. The cached
`Agreement.balance_minutes` is rewritten from the same locked transaction.
Views, the API, admin actions and tasks call these functions; none of them
writes a ledger entry itself.
"""

from agreements.services.adjustments import ledger_adjust
from agreements.services.blocks import (
    block_cancel,
    block_credit,
    block_credit_take_back,
    block_expiry_change,
    block_mark_paid,
    block_resize,
    block_sell,
    blocks_expire,
    overage_mark_billed,
    overage_unbilled_minutes,
)
from agreements.services.cancellations import (
    agreement_end,
    agreement_unpaid_blocks,
    block_unused_forfeit,
    block_unused_refund,
)
from agreements.services.clients import (
    AGREEMENT_SETTINGS,
    agreement_create,
    agreement_reorder,
    agreement_set_work_types,
    agreement_update,
    client_contact_create,
    client_contact_invite,
    client_create,
    client_update,
)
from agreements.services.goodwill_and_moves import GoodwillGrant, HoursMove, block_grant_goodwill, block_hours_move
from agreements.services.ledger import InsufficientBalance, agreement_balance_locked
from agreements.services.opening_balances import (
    NewContact,
    OpeningBalance,
    agreements_create_many,
    client_contacts_create_many,
    clients_create_many,
    opening_balances_credit,
)
from agreements.services.questions import (
    question_correct,
    question_credit,
    question_creditable_minutes,
    question_explain,
    question_raise,
    question_window_starts_on,
    questions_open,
)
from agreements.services.renewals import (
    RenewalTerm,
    TermClose,
    TermEnd,
    agreement_term_close,
    agreement_term_starts_on,
    renewal_open,
    renewals_due_to_open,
    term_end_preview,
    terms_due_to_close,
)
from agreements.services.time_entries import (
    IdempotencyConflict,
    NoAgreementCanTake,
    ticket_get_or_create,
    time_entry_correct,
    time_entry_log,
    time_entry_log_for_client,
    time_entry_void,
)
from agreements.services.timers import (
    TimerStop,
    timer_current,
    timer_discard,
    timer_end,
    timer_midnight_question,
    timer_start,
    timer_stop,
)

__all__ = [
    "AGREEMENT_SETTINGS",
    "GoodwillGrant",
    "HoursMove",
    "IdempotencyConflict",
    "InsufficientBalance",
    "NewContact",
    "NoAgreementCanTake",
    "OpeningBalance",
    "RenewalTerm",
    "TermClose",
    "TermEnd",
    "agreement_term_close",
    "agreement_term_starts_on",
    "renewal_open",
    "renewals_due_to_open",
    "term_end_preview",
    "terms_due_to_close",
    "agreement_balance_locked",
    "agreement_create",
    "agreements_create_many",
    "client_contacts_create_many",
    "clients_create_many",
    "opening_balances_credit",
    "agreement_reorder",
    "agreement_set_work_types",
    "agreement_update",
    "agreement_end",
    "agreement_unpaid_blocks",
    "block_cancel",
    "block_credit",
    "block_credit_take_back",
    "block_expiry_change",
    "block_grant_goodwill",
    "block_hours_move",
    "block_mark_paid",
    "block_resize",
    "block_sell",
    "block_unused_forfeit",
    "block_unused_refund",
    "blocks_expire",
    "client_contact_create",
    "client_contact_invite",
    "client_create",
    "client_update",
    "ledger_adjust",
    "overage_mark_billed",
    "overage_unbilled_minutes",
    "question_correct",
    "question_credit",
    "question_creditable_minutes",
    "question_explain",
    "question_raise",
    "question_window_starts_on",
    "questions_open",
    "ticket_get_or_create",
    "time_entry_correct",
    "time_entry_log",
    "time_entry_log_for_client",
    "time_entry_void",
    "TimerStop",
    "timer_current",
    "timer_discard",
    "timer_end",
    "timer_midnight_question",
    "timer_start",
    "timer_stop",
]
