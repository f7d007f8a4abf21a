"""The low-balance loop: find agreements that ran low, open one episode each,
raise and send the reload invoice, and close the episode when hours are back.

Exactly once, whatever runs twice:
- an episode is opened by inserting it; the database allows one open episode
  per agreement, so two sweeps at once cannot both open it;
- an episode is processed under its row lock and marked processed in the same
  transaction that creates its email rows; a reload invoice is issued and
  committed just before (so the invoice-number counter is not held while the
  PDF renders), and an episode with an issued invoice but no processed_at is
  handed out again until its emails are recorded, once;
- an email is claimed by a conditional UPDATE (pending → sending) that must
  change exactly one row, and is marked sent only after the server accepted it.
Tasks are queued only after the transaction that made their rows commits.
"""

import datetime
import logging
import smtplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from agreements import services as agreement_services
from agreements.domain import format_minutes, money
from agreements.events import balance_data
from agreements.models import Agreement, AgreementStatus, Block, OveragePolicy, TermEndAction, Tier, TopupMode
from agreements.selectors import (
    agreements_with_unbilled_overage,
    has_hours_on_the_way,
    latest_block_usage,
)
from audit.models import AuditAction
from audit.services import audit_record
from billing import credit_notes
from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.models import CreditNote, Invoice, InvoiceKind, InvoiceStatus
from monitoring.queueing import task_publish
from notifications import emails
from notifications.models import (
    CARRIES_SIGN_IN_LINK,
    NO_FAILURE_ALERT,
    EmailKind,
    EmailStatus,
    Episode,
    EpisodeKind,
    OutgoingEmail,
    SweepRun,
)
from notifications.selectors import LOW_BALANCE_SWEEP
from payments import services as payment_services
from payments import tasks as payment_tasks
from webhooks.models import EventKind as WebhookEvent
from webhooks.services import event_emit

log = logging.getLogger(__name__)

Enqueue = Callable[[int], None]


# ---------------------------------------------------------------------------
# Recipients


def client_billing_recipients(agreement: Agreement) -> list[str]:
    """The client's billing contacts and accounts-payable address, each once."""
    client = agreement.client
    addresses = [client.billing_email] + [
        contact.user.email
        for contact in client.contacts.select_related("user").filter(receives_invoices=True, user__is_active=True)
    ]
    return _unique(addresses)


def staff_recipients() -> list[str]:
    staff = User.objects.filter(is_active=True, role=Role.STAFF).exclude(email="").order_by("pk")
    return _unique(user.email for user in staff)


def recipient_languages(recipients: list[str], *, default: str) -> dict[str, str]:
    """Each address with the language its emails are written in: the language
    its user chose for themselves, else `default` (the client's language for
    client emails, the site's for staff)."""
    lowered = {address.lower() for address in recipients}
    chosen = {
        email.lower(): language
        for email, language in User.objects.annotate(lower_email=Lower("email"))
        .filter(lower_email__in=lowered)
        .exclude(language="")
        .values_list("email", "language")
    }
    return {address: chosen.get(address.lower(), default) for address in recipients}


def _unique(addresses) -> list[str]:
    seen: dict[str, str] = {}
    for address in addresses:
        if address and address.strip() and address.strip().lower() not in seen:
            seen[address.strip().lower()] = address.strip()
    return list(seen.values())


# ---------------------------------------------------------------------------
# The sweep: select and claim


def _scoped(scope: QuerySet[Agreement] | None) -> QuerySet[Agreement]:
    return Agreement.objects.all() if scope is None else scope


def _episodes_in(scope: QuerySet[Agreement] | None) -> QuerySet[Episode]:
    return Episode.objects.all() if scope is None else Episode.objects.filter(agreement__in=scope)


def _has_open_episode(kind: str) -> Exists:
    # One subquery on the same episode row: an `exclude()` across the relation
    # would match "some episode of this kind" and "some open episode" on two
    # different rows.
    return Exists(Episode.objects.filter(agreement=OuterRef("pk"), kind=kind, closed_at__isnull=True))


def low_balance_candidates(scope: QuerySet[Agreement] | None = None) -> QuerySet[Agreement]:
    """Active agreements whose bought hours fell to their threshold, with
    nothing on its way and no open episode: a reload is due.

    The first filter is exactly the condition of the partial index
    `agreement_low_balance_idx`, so the database reads only low agreements
    that have had hours (`has_had_hours`, agreements.selectors.has_bought_hours
    kept on the row: an agreement that never had any has nothing to reload).
    """
    return (
        _scoped(scope)
        .filter(
            status=AgreementStatus.ACTIVE,
            has_had_hours=True,
            balance_minutes__lte=F("low_balance_threshold_minutes"),
        )
        .exclude(has_hours_on_the_way())
        .exclude(_has_open_episode(EpisodeKind.LOW_BALANCE))
        .order_by("pk")
    )


def episode_open(*, agreement: Agreement, kind: str = EpisodeKind.LOW_BALANCE) -> Episode | None:
    """Claim the agreement's low episode; None if another sweep got there first."""
    try:
        with transaction.atomic():
            episode = Episode.objects.create(
                agreement=agreement,
                kind=kind,
                balance_at_open=agreement.balance_minutes,
                threshold_at_open=agreement.low_balance_threshold_minutes,
            )
            # Once per episode, like its emails: the claim above is the guard.
            if webhook_kind := EPISODE_EVENTS.get(kind):
                event_emit(webhook_kind, data=lambda: balance_data(agreement))
            return episode
    except IntegrityError:
        return None


EPISODE_EVENTS = {
    EpisodeKind.LOW_BALANCE: WebhookEvent.BALANCE_LOW,
    EpisodeKind.EXHAUSTED: WebhookEvent.BALANCE_EXHAUSTED,
}


def _still_low(episode: Episode) -> bool:
    agreement = episode.agreement
    if agreement.status != AgreementStatus.ACTIVE:
        return False
    if episode.kind == EpisodeKind.EXHAUSTED:
        return agreement.balance_minutes <= 0
    if episode.kind == EpisodeKind.USAGE:
        return _usage_reached(agreement)
    return agreement.balance_minutes <= agreement.low_balance_threshold_minutes


def episodes_close_recovered(scope: QuerySet[Agreement] | None = None) -> int:
    """Close open episodes whose agreement recovered: back above its threshold,
    a new block bought (usage alert), or the agreement ended."""
    closed = 0
    for episode in _episodes_in(scope).filter(closed_at__isnull=True).select_related("agreement"):
        if not _still_low(episode):
            closed += Episode.objects.filter(pk=episode.pk, closed_at__isnull=True).update(closed_at=timezone.now())
    return closed


def _usage_reached(agreement: Agreement) -> bool:
    usage = latest_block_usage(agreement)
    if usage is None or not agreement.usage_alert_percent:
        return False
    block, used = usage
    return used * 100 >= agreement.usage_alert_percent * block.minutes


def usage_alert_candidates(scope: QuerySet[Agreement] | None = None) -> list[Agreement]:
    """Agreements that opted in to an early notice and used that share of their latest block."""
    opted_in = (
        _scoped(scope)
        .filter(status=AgreementStatus.ACTIVE, usage_alert_percent__isnull=False)
        .exclude(_has_open_episode(EpisodeKind.USAGE))
        .select_related("client")
        .order_by("pk")
    )
    return [agreement for agreement in opted_in if _usage_reached(agreement)]


_SHORT_KIND = {EpisodeKind.LOW_BALANCE: "low", EpisodeKind.EXHAUSTED: "exhausted", EpisodeKind.USAGE: "usage alert"}


@dataclass
class SweepReport:
    closed: int = 0
    opened: list[Episode] = field(default_factory=list)
    handed_to_workers: int = 0
    emails_queued: int = 0
    emails_stuck: int = 0

    def lines(self) -> list[str]:
        opened = ", ".join(
            f"{e.agreement.client} ({_SHORT_KIND[e.kind]}, {format_minutes(e.balance_at_open)} left)"
            for e in self.opened
        )
        return [
            f"Episodes closed (balance back above threshold): {self.closed}",
            f"Episodes opened: {len(self.opened)}" + (f" — {opened}" if opened else ""),
            f"Episodes handed to a worker: {self.handed_to_workers}",
            f"Emails queued for (re)sending: {self.emails_queued}",
            f"Emails found interrupted while sending (shown to staff as stuck): {self.emails_stuck}",
        ]


def sweep(*, process: Enqueue, send: Enqueue, agreement_id: int | None = None) -> SweepReport:
    """One pass of the beat task; `process` and `send` queue the per-item work.

    It works from the database state alone, so a run that follows a broker
    outage or a dead worker catches up with everything the last one missed.
    With `agreement_id` it looks at that agreement only (a handful of reads,
    no writes when nothing is due): run right after time is logged on it, so
    an exhausted balance reaches staff at once. The outbox-wide work (stuck
    and due emails) is left to the beat sweep.
    """
    started_at, started = timezone.now(), time.perf_counter()
    scope = Agreement.objects.filter(pk=agreement_id) if agreement_id else None
    report = SweepReport(closed=episodes_close_recovered(scope))
    for kind, candidates in (
        (EpisodeKind.LOW_BALANCE, low_balance_candidates(scope).select_related("client")),
        (EpisodeKind.EXHAUSTED, exhausted_candidates(scope)),
        (EpisodeKind.USAGE, usage_alert_candidates(scope)),
    ):
        for agreement in candidates:
            episode = episode_open(agreement=agreement, kind=kind)
            if episode is not None:
                report.opened.append(episode)
    # Closed episodes too when their reload invoice is issued: it is numbered
    # and must still be emailed (see episode_process).
    unprocessed = _episodes_in(scope).filter(
        Q(closed_at__isnull=True) | Q(reload_invoice__isnull=False), processed_at__isnull=True
    )
    for episode_id in unprocessed.values_list("pk", flat=True):
        # Catch-up if the broker loses it: the next sweep hands it out again (processed_at still empty).
        transaction.on_commit(lambda episode_id=episode_id: process(episode_id))
        report.handed_to_workers += 1
    if agreement_id is None:
        # Every email, whoever recorded it: the beat sweep's job alone. The
        # check after each time entry leaves it alone, so logging time never
        # scans or updates the whole outbox.
        report.emails_stuck = emails_mark_stuck(send=send)
        for email_id in emails_due():
            # Catch-up if the broker loses it: the sweep resends every pending email that is due.
            transaction.on_commit(lambda email_id=email_id: send(email_id))
            report.emails_queued += 1
        # A full sweep: beat is alive and a worker ran it.
        SweepRun.objects.update_or_create(
            job=LOW_BALANCE_SWEEP,
            defaults={
                "started_at": started_at,
                "finished_at": timezone.now(),
                "duration_ms": round((time.perf_counter() - started) * 1000),
                "episodes_opened": len(report.opened),
            },
        )
    return report


def exhausted_candidates(scope: QuerySet[Agreement] | None = None) -> QuerySet[Agreement]:
    """Agreements that cannot take another minute under the reject policy: staff must act."""
    return (
        _scoped(scope)
        .filter(
            status=AgreementStatus.ACTIVE,
            overage_policy=OveragePolicy.REJECT,
            balance_minutes__lte=0,
            has_had_hours=True,
        )
        .exclude(_has_open_episode(EpisodeKind.EXHAUSTED))
        .order_by("pk")
    )


# ---------------------------------------------------------------------------
# Processing one episode


def reload_tier_for(agreement: Agreement) -> Tier | None:
    """The agreement's reload tier; else the tier of its last block; else the smallest tier on sale."""
    if agreement.reload_tier_id:
        return agreement.reload_tier
    last = agreement.blocks.filter(tier__isnull=False, tier__is_active=True).order_by("-created_at").first()
    if last is not None:
        return last.tier
    return Tier.objects.filter(is_active=True).order_by("hours").first()


def episode_process(*, episode_id: int, send: Enqueue) -> str:
    """Act on an episode once: raise the reload invoice, render its PDF and
    record the emails, or just the emails when nothing is sold.

    A reload invoice is issued in a transaction of its own that commits
    before its PDF and emails are rendered: the year's invoice-number counter
    stays locked until that commit, so two workers would otherwise take turns
    on it. The second step runs at once, in this call; if the worker dies
    between the two, the episode has its invoice and no processed_at, the
    next sweep (or the broker's redelivery) hands it out again and only the
    second step runs. Each step holds the episode's row lock, so it happens once.
    """
    outcome = _episode_act(episode_id, send)
    if outcome != "issued":
        return outcome
    return _episode_deliver(episode_id, send)


def _episode_locked(episode_id: int) -> Episode:
    return Episode.objects.select_for_update(of=("self",)).select_related("agreement__client").get(pk=episode_id)


def _episode_act(episode_id: int, send: Enqueue) -> str:
    """The first step; "issued" when a reload invoice awaits its PDF and emails."""
    with transaction.atomic():
        episode = _episode_locked(episode_id)
        if episode.processed_at is not None:
            return "already processed"
        if episode.reload_invoice_id is not None:
            return "issued"  # issued by an earlier run that stopped before its emails
        if episode.closed_at is not None:
            return "closed before it was processed"
        agreement = episode.agreement
        if agreement.status != AgreementStatus.ACTIVE:
            # Cancelled or ended between the sweep and this task: nothing may be sold on it.
            episode.closed_at = timezone.now()
            episode.save(update_fields=["closed_at"])
            return "agreement ended"
        if episode.kind == EpisodeKind.EXHAUSTED:
            _record_emails(
                episode,
                EmailKind.EXHAUSTED_STAFF,
                staff_recipients(),
                invoice=None,
                default_language=settings.LANGUAGE_CODE,
            )
        elif episode.kind == EpisodeKind.USAGE:
            _record_emails(
                episode,
                EmailKind.USAGE_ALERT,
                client_billing_recipients(agreement),
                invoice=None,
                default_language=agreement.client.language,
            )
        elif _term_ends_soon(agreement):
            _record_emails(
                episode,
                EmailKind.TERM_ENDING_STAFF,
                staff_recipients(),
                invoice=None,
                default_language=settings.LANGUAGE_CODE,
            )
        elif _low_balance_act(episode, agreement, send):
            return "issued"
        _episode_mark_processed(episode, send)
    return "processed"


def _episode_deliver(episode_id: int, send: Enqueue) -> str:
    """The second step: the issued reload invoice's PDF and emails, once.
    Also run for an episode that closed meanwhile (an auto-reload's hours
    lifted the balance): its invoice is numbered and must reach the client."""
    with transaction.atomic():
        episode = _episode_locked(episode_id)
        if episode.processed_at is not None:
            return "already processed"
        invoice = Invoice.objects.select_related("block").get(pk=episode.reload_invoice_id)
        if invoice.status != InvoiceStatus.VOID:  # voided by staff meanwhile: nothing to send
            # The PDF is attached to the emails, so it is rendered now, not on first send.
            billing_services.invoice_render_pdf(invoice=invoice)
            _reload_emails_record(episode, invoice)
            _record_emails(
                episode,
                EmailKind.LOW_BALANCE_STAFF,
                staff_recipients(),
                invoice=invoice,
                default_language=settings.LANGUAGE_CODE,
            )
        _episode_mark_processed(episode, send)
    return "processed"


def _episode_mark_processed(episode: Episode, send: Enqueue) -> None:
    episode.processed_at = timezone.now()
    episode.save(update_fields=["processed_at"])
    for email_id in episode.emails.filter(status=EmailStatus.PENDING).values_list("pk", flat=True):
        # Queued after commit: a worker must find the row it is told to send.
        # Catch-up if the broker loses it: the sweep resends every pending email that is due.
        transaction.on_commit(lambda email_id=email_id: send(email_id))


def _term_ends_soon(agreement: Agreement) -> bool:
    """A reload block sold now would expire with the term within the window:
    the client would pay for hours they may not have time to use."""
    if agreement.ends_on is None:
        return False
    days_left = (agreement.ends_on - timezone.localdate()).days
    return days_left <= settings.RELOAD_STOPS_DAYS_BEFORE_TERM_END


def _low_balance_act(episode: Episode, agreement: Agreement, send: Enqueue) -> bool:
    """The episode's one action, chosen by the agreement's top-up mode; the
    caller holds the episode's row lock. True when it issued a reload invoice
    whose PDF and emails come in a second step (see episode_process); else
    the caller marks the episode processed in the same transaction, so it
    happens once however often the sweep runs."""
    if agreement.topup_mode == TopupMode.NOTIFY:
        _record_emails(
            episode,
            EmailKind.LOW_BALANCE_CLIENT,
            client_billing_recipients(agreement),
            invoice=None,
            default_language=agreement.client.language,
        )
        _record_emails(
            episode,
            EmailKind.LOW_BALANCE_STAFF,
            staff_recipients(),
            invoice=None,
            default_language=settings.LANGUAGE_CODE,
        )
        return False
    if agreement.topup_mode == TopupMode.DRAFT:
        draft = billing_services.reload_invoice_draft(agreement=agreement, tier=_reload_tier(agreement), actor=None)
        episode.reload_invoice = draft
        episode.save(update_fields=["reload_invoice"])
        # The draft is named in the text, not attached: a draft has no stored PDF.
        _record_emails(
            episode,
            EmailKind.RELOAD_DRAFT_STAFF,
            staff_recipients(),
            invoice=None,
            default_language=settings.LANGUAGE_CODE,
            draft=draft,
            review_path=reverse("dashboard:reload_draft", args=[draft.public_id]),
        )
        return False
    _raise_reload_invoice(episode, agreement, send)
    return True


def _reload_emails_record(episode: Episode, invoice: Invoice) -> None:
    client_kind = EmailKind.AUTO_RELOADED if episode.auto_reloaded else EmailKind.RELOAD_INVOICE
    _record_emails(
        episode,
        client_kind,
        client_billing_recipients(episode.agreement),
        invoice=invoice,
        default_language=invoice.language,
    )


def _reload_tier(agreement: Agreement) -> Tier:
    tier = reload_tier_for(agreement)
    if tier is None:
        raise RuntimeError("No tier is on sale: a reload invoice cannot be raised.")
    return tier


def _raise_reload_invoice(episode: Episode, agreement: Agreement, send: Enqueue) -> Invoice:
    sale = billing_services.block_sale_invoices(
        agreement=agreement,
        tier=_reload_tier(agreement),
        kind=InvoiceKind.RELOAD,
        actor=None,
        credit_now=agreement.topup_mode == TopupMode.CHARGE,
        queue_pdf=False,  # rendered by episode_process's second step
    )
    invoice, block = sale.invoice, sale.invoice.block
    if sale.overage_invoice is not None:
        _invoice_emails_record(sale.overage_invoice, topic=f"overage:{sale.overage_invoice.public_id}", send=send)
    # Credited now by auto-reload or by the usable-at-once policy: the emails
    # then say the hours were added, not that they come once paid.
    episode.auto_reloaded = block.credited_at is not None
    episode.reload_invoice = invoice
    episode.save(update_fields=["reload_invoice", "auto_reloaded"])
    if agreement.topup_mode == TopupMode.CHARGE and payment_services.saved_method_for(agreement.client) is not None:
        # After commit: the worker must find the issued invoice. Catch-up if
        # the broker loses it: the invoice stays issued, and its email carries
        # the pay link; the reconciliation has nothing to apply.
        invoice_id = invoice.pk
        transaction.on_commit(
            lambda: task_publish(payment_tasks.charge_reload_invoice, invoice_id, catch_up="the pay link in the email"),
            robust=True,
        )
    return invoice


# ---------------------------------------------------------------------------
# Reload drafts (draft top-up mode): staff change the block, issue or discard


def _draft_episode_locked(invoice: Invoice) -> Episode:
    """The episode that drafted `invoice`, row-locked: the lock order of the
    sweep (episode, then agreement and invoice), so the two never cross."""
    found = (
        Episode.objects.select_for_update(of=("self",))
        .select_related("agreement__client")
        .filter(reload_invoice=invoice)
        .first()
    )
    if found is None or invoice.kind != InvoiceKind.RELOAD:
        raise ValidationError(_("This invoice is not a reload drafted for review."))
    # Read under the episode's lock: a double click waits here and then sees the first click's result.
    if Invoice.objects.values_list("status", flat=True).get(pk=invoice.pk) != InvoiceStatus.DRAFT:
        raise ValidationError(_("This reload is no longer a draft: it was issued or discarded."))
    return found


def reload_draft_change_block(
    *, invoice: Invoice, actor: User | None, tier: Tier | None = None, hours: int | None = None
) -> Invoice:
    """Another block size on a drafted reload: a tier, or whole hours."""
    with transaction.atomic():
        _draft_episode_locked(invoice)
        return billing_services.invoice_draft_change_block(invoice=invoice, actor=actor, tier=tier, hours=hours)


def reload_draft_issue(*, invoice: Invoice, actor: User | None, send: Enqueue) -> Invoice:
    """Issue a drafted reload as the issue mode would have: numbered, its PDF
    rendered and emailed to the client's billing contacts (once per episode,
    queued after commit), the overage billed with it under bill-overage."""
    with transaction.atomic():
        episode = _draft_episode_locked(invoice)
        invoice = billing_services.invoice_issue(invoice=invoice, actor=actor, queue_pdf=False)
        billing_services.invoice_render_pdf(invoice=invoice)
        # Under "usable at once" the hours came with the issue: the email says they were added.
        episode.auto_reloaded = invoice.block.credited_at is not None
        episode.save(update_fields=["auto_reloaded"])
        _reload_emails_record(episode, invoice)
        overage = billing_services.invoice_bill_overage(agreement=invoice.agreement, actor=actor)
        if overage is not None:
            _invoice_emails_record(overage, topic=f"overage:{overage.public_id}", send=send)
        audit_record(
            actor=actor,
            action=AuditAction.RELOAD_DRAFT_ISSUE,
            target=invoice,
            client=invoice.client,
            before={"status": InvoiceStatus.DRAFT},
            after={
                "status": invoice.status,
                "number": invoice.number,
                "minutes": invoice.block.minutes,
                "total": invoice.total,
                "credited": episode.auto_reloaded,
            },
            summary=format_lazy(
                gettext_lazy("Issued reload invoice {number} of {client} ({total} {currency}) from its draft."),
                number=invoice.number,
                client=invoice.client.name,
                total=invoice.total,
                currency=invoice.currency,
            ),
        )
        for email_id in episode.emails.filter(invoice=invoice, status=EmailStatus.PENDING).values_list("pk", flat=True):
            # Catch-up if the broker loses it: the sweep resends every pending email that is due.
            transaction.on_commit(lambda email_id=email_id: send(email_id))
    return invoice


def reload_draft_discard(*, invoice: Invoice, actor: User | None, reason: str = "") -> Invoice:
    """Discard a drafted reload: the draft is voided unnumbered and its block
    cancelled, so nothing is sold. The episode stays processed: no new draft
    comes until the balance has recovered and fallen again."""
    with transaction.atomic():
        _draft_episode_locked(invoice)
        return billing_services.invoice_void(
            invoice=invoice, actor=actor, reason=reason.strip() or _("Reload draft discarded by staff")
        )


def _email_context(agreement_id: int, **extra: object) -> dict[str, object]:
    agreement = Agreement.objects.select_related("client").get(pk=agreement_id)
    seller = billing_selectors.seller_profile_get()
    usage = latest_block_usage(agreement)
    return {
        "agreement": agreement,
        "client": agreement.client,
        "seller_name": seller.name if seller else "Blockhours",
        "balance": format_minutes(agreement.balance_minutes),
        "threshold": format_minutes(agreement.low_balance_threshold_minutes),
        "latest_block": usage[0] if usage else None,
        "latest_block_used": format_minutes(usage[1]) if usage else "",
        "days_left": (agreement.ends_on - timezone.localdate()).days if agreement.ends_on else None,
        "site_url": settings.SITE_URL.rstrip("/"),
        # The signed pay link of an unpaid invoice, when online payment is on.
        "pay_url": payment_services.pay_link_url(extra["invoice"]) if extra.get("invoice") is not None else "",
        # The method an auto-reload is charged to; None when nothing is on file.
        "method_on_file": payment_services.saved_method_for(agreement.client)
        if agreement.topup_mode == TopupMode.CHARGE
        else None,
        **extra,
    }


def _record_emails(
    episode: Episode,
    kind: str,
    recipients: list[str],
    *,
    invoice: Invoice | None,
    default_language: str,
    **extra: object,
) -> None:
    """One email of `kind` per recipient for the episode; `invoice` is attached as its PDF."""
    context = _email_context(episode.agreement_id, episode=episode, invoice=invoice, **extra)
    rendered_for = emails.render_each(kind, context, recipient_languages(recipients, default=default_language))
    for recipient, rendered in rendered_for.items():
        OutgoingEmail.objects.get_or_create(
            episode=episode,
            kind=kind,
            recipient=recipient,
            defaults={
                "agreement_id": episode.agreement_id,
                "invoice": invoice,
                "subject": rendered.subject,
                "body_text": rendered.body_text,
                "body_html": rendered.body_html,
            },
        )


# ---------------------------------------------------------------------------
# Sending one email


# Failures worth another try: the server or the network is down or busy.
TEMPORARY_ERRORS = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    ConnectionError,
    socket.timeout,
    TimeoutError,
)


def _is_temporary(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500  # 4xx: "try again later"; 5xx is final
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    return isinstance(error, TEMPORARY_ERRORS)


def retry_delay(attempts: int) -> int:
    """Seconds before the next try: doubling from a minute, capped well below the
    broker's visibility timeout so a waiting retry is never redelivered twice."""
    return min(60 * 2 ** max(attempts - 1, 0), settings.EMAIL_RETRY_MAX_DELAY)


@dataclass(frozen=True)
class SendResult:
    outcome: str  # "sent", "retry", "failed", "skipped"
    retry_in: int = 0


def email_send(*, email_id: int, send: Enqueue | None = None) -> SendResult:
    """Send one recorded email if it is due; `send` queues the staff alert
    recorded when an email to a client fails for good (None: record it only,
    the next sweep sends it)."""
    now = timezone.now()
    claimed = OutgoingEmail.objects.filter(pk=email_id, status=EmailStatus.PENDING, next_attempt_at__lte=now).update(
        status=EmailStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if claimed != 1:
        return SendResult("skipped")  # sent already, not due yet, or another worker got there first
    email = OutgoingEmail.objects.select_related("invoice").get(pk=email_id)
    try:
        _message_for(email).send()
    except Exception as error:  # noqa: BLE001 - classified below; nothing is lost
        message = f"{type(error).__name__}: {error}"[:2000]
        if _is_temporary(error) and email.attempts < settings.EMAIL_MAX_ATTEMPTS:
            delay = retry_delay(email.attempts)
            OutgoingEmail.objects.filter(pk=email.pk).update(
                status=EmailStatus.PENDING,
                last_error=message,
                next_attempt_at=timezone.now() + datetime.timedelta(seconds=delay),
            )
            log.warning("Email %s to %s not sent (%s); retrying in %ss", email.pk, email.recipient, message, delay)
            return SendResult("retry", delay)
        with transaction.atomic():
            OutgoingEmail.objects.filter(pk=email.pk).update(status=EmailStatus.FAILED, last_error=message)
            email.status, email.last_error = EmailStatus.FAILED, message
            alerts = _alert_staff_of_undelivered(email)
            for alert_id in alerts:
                if send is not None:
                    transaction.on_commit(lambda alert_id=alert_id: send(alert_id))
        log.error("Email %s to %s failed for good: %s", email.pk, email.recipient, message)
        return SendResult("failed")
    sent = {"status": EmailStatus.SENT, "sent_at": timezone.now(), "last_error": ""}
    if email.kind in CARRIES_SIGN_IN_LINK:
        # The link did its job once delivered; the row keeps only that it went.
        sent.update(body_text=_("(Removed once sent: it held a one-time sign-in link.)"), body_html="")
    OutgoingEmail.objects.filter(pk=email.pk).update(**sent)
    return SendResult("sent")


def _alert_staff_of_undelivered(email: OutgoingEmail) -> list[int]:
    """Record one alert per staff address that `email` did not reach its
    recipient; returns the ids recorded now. The alerts are recorded emails
    like any other: if they fail too they show on the dashboard, and they
    never raise an alert of their own (NO_FAILURE_ALERT)."""
    staff = staff_recipients()
    if email.kind in NO_FAILURE_ALERT or email.recipient.lower() in {address.lower() for address in staff}:
        return []
    context = {
        "failed": email,
        "client": email.agreement.client if email.agreement_id else None,
        "seller_name": getattr(billing_selectors.seller_profile_get(), "name", "") or "Blockhours",
        "site_url": settings.SITE_URL.rstrip("/"),
    }
    rendered_for = emails.render_each(
        EmailKind.EMAIL_FAILED_STAFF, context, recipient_languages(staff, default=settings.LANGUAGE_CODE)
    )
    created = []
    for recipient, rendered in rendered_for.items():
        alert, is_new = OutgoingEmail.objects.get_or_create(
            # Once per failure: a resend that fails again is a new failure (new attempts count).
            topic=f"undelivered:{email.pk}:{email.attempts}",
            kind=EmailKind.EMAIL_FAILED_STAFF,
            recipient=recipient,
            defaults={
                "agreement_id": email.agreement_id,
                "subject": rendered.subject,
                "body_text": rendered.body_text,
                "body_html": rendered.body_html,
            },
        )
        if is_new:
            created.append(alert.pk)
    return created


def _message_for(email: OutgoingEmail):
    seller = billing_selectors.seller_profile_get()
    attachments = []
    if email.invoice is not None:
        invoice = email.invoice
        # The render queued at issue may not have run yet: never send without the PDF.
        if not billing_services.invoice_pdf_is_current(invoice):
            invoice.pdf.name = billing_services.invoice_render_pdf(invoice=invoice)
        with invoice.pdf.open("rb") as pdf:
            with translation.override(invoice.language):  # the document's language, like its contents
                filename = _("Invoice-%(number)s.pdf") % {"number": invoice.number}
            attachments.append((filename, pdf.read(), "application/pdf"))
    if email.credit_note is not None:
        credit_note = email.credit_note
        # Rendered now if the render queued at issue has not run: never sent without the PDF.
        with credit_note.pdf.storage.open(credit_notes.credit_note_pdf_name(credit_note), "rb") as document:
            with translation.override(credit_note.language):
                filename = _("Credit-note-%(number)s.pdf") % {"number": credit_note.number}
            attachments.append((filename, document.read(), "application/pdf"))
    if email.attachment:
        with email.attachment.open("rb") as document:
            attachments.append((email.attachment_name or "attachment.pdf", document.read(), "application/pdf"))
    return emails.build_message(
        subject=email.subject,
        body_text=email.body_text,
        body_html=email.body_html,
        to=email.recipient,
        from_name=seller.name if seller else "",
        reply_to=seller.email if seller else "",
        attachments=attachments,
    )


def emails_due() -> list[int]:
    return list(
        OutgoingEmail.objects.filter(status=EmailStatus.PENDING, next_attempt_at__lte=timezone.now()).values_list(
            "pk", flat=True
        )
    )


def emails_mark_stuck(*, send: Enqueue | None = None) -> int:
    """A send interrupted between "claimed" and "sent" may or may not have
    reached the server: rather than risk a duplicate, show it to staff (and
    email them, as for a failed one)."""
    cutoff = timezone.now() - datetime.timedelta(seconds=settings.EMAIL_STUCK_AFTER)
    marked = 0
    for email in OutgoingEmail.objects.filter(status=EmailStatus.SENDING, claimed_at__lt=cutoff).select_related(
        "agreement__client"
    ):
        with transaction.atomic():
            if OutgoingEmail.objects.filter(pk=email.pk, status=EmailStatus.SENDING).update(status=EmailStatus.STUCK):
                marked += 1
                email.status = EmailStatus.STUCK
                for alert_id in _alert_staff_of_undelivered(email):
                    if send is not None:
                        transaction.on_commit(lambda alert_id=alert_id: send(alert_id))
    return marked


def email_resend(*, email: OutgoingEmail, actor: User | None, send: Enqueue | None = None) -> bool:
    """Staff decided a stuck or failed email should go out (again): it is due
    at once and queued after commit. Only a stuck or failed email changes, so
    a double click (or two staff at once) resends once; returns whether this
    call did."""
    with transaction.atomic():
        changed = OutgoingEmail.objects.filter(pk=email.pk, status__in=[EmailStatus.STUCK, EmailStatus.FAILED]).update(
            status=EmailStatus.PENDING, next_attempt_at=timezone.now()
        )
        if changed != 1:
            return False
        audit_record(
            actor=actor,
            action=AuditAction.EMAIL_RESEND,
            target=("email", str(email.pk)),
            client=email.agreement.client if email.agreement_id else None,
            before={"status": email.status, "attempts": email.attempts, "last_error": email.last_error},
            after={"status": EmailStatus.PENDING},
            summary=format_lazy(
                gettext_lazy("Sent again: “{subject}” to {recipient}."),
                subject=email.subject,
                recipient=email.recipient,
            ),
        )
        if send is not None:
            transaction.on_commit(lambda: send(email.pk))
    return True


def account_email_record(*, user: User, kind: str, subject: str, body_text: str, send: Enqueue) -> OutgoingEmail:
    """Record an email about a person's account (an invitation, a password
    reset link) and queue it after commit: retried, shown to staff when it
    fails, and sent again from the same pages as every other email. The web
    request that asked for it never waits on the mail server."""
    if kind not in (EmailKind.INVITATION, EmailKind.PASSWORD_RESET):
        raise ValueError(f"Not an account email: {kind!r}")
    with transaction.atomic():
        email = OutgoingEmail.objects.create(
            kind=kind, user=user, recipient=user.email, subject=" ".join(subject.split()), body_text=body_text
        )
        transaction.on_commit(lambda: send(email.pk))
    return email


# ---------------------------------------------------------------------------
# Daily notices: hours about to expire, terms about to end


@dataclass
class NoticeReport:
    recorded: int = 0
    queued: list[int] = field(default_factory=list)


def _record_notice(
    *,
    agreement_id: int,
    kind: str,
    topic: str,
    recipients: list[str],
    context: dict,
    attachment: tuple[str, str] | None = None,
    invoice: Invoice | None = None,
) -> list[int]:
    """One email per recipient for `topic`, once (the unique topic/kind/recipient
    holds it); `attachment` = (storage name of a PDF already saved, file name);
    `invoice` is attached as its PDF."""
    client_language = Agreement.objects.values_list("client__language", flat=True).get(pk=agreement_id)
    rendered_for = emails.render_each(
        kind, _email_context(agreement_id, **context), recipient_languages(recipients, default=client_language)
    )
    stored, filename = attachment or ("", "")
    created = []
    for recipient, rendered in rendered_for.items():
        email, is_new = OutgoingEmail.objects.get_or_create(
            topic=topic,
            kind=kind,
            recipient=recipient,
            defaults={
                "agreement_id": agreement_id,
                "subject": rendered.subject,
                "body_text": rendered.body_text,
                "body_html": rendered.body_html,
                "attachment": stored,
                "attachment_name": filename,
                "invoice": invoice,
            },
        )
        if is_new:
            created.append(email.pk)
    return created


def notice_record(
    *,
    agreement_id: int,
    kind: str,
    topic: str,
    recipients: list[str],
    context: dict,
    attachment: tuple[str, str] | None = None,
) -> list[int]:
    """Record a client notice once per topic and recipient, for other apps
    (reports' monthly statements); returns the ids of the rows created now.
    Call inside a transaction and queue sending with transaction.on_commit."""
    return _record_notice(
        agreement_id=agreement_id, kind=kind, topic=topic, recipients=recipients, context=context, attachment=attachment
    )


def expiry_notices_record(*, today: datetime.date | None = None, send: Enqueue) -> NoticeReport:
    """Warn clients (and staff) EXPIRY_NOTICE_DAYS ahead: unused hours of a block
    about to expire, and an agreement term about to end (renewal notice).
    Each notice goes once per block or term, however often this runs."""
    today = today or timezone.localdate()
    horizon = today + datetime.timedelta(days=settings.EXPIRY_NOTICE_DAYS)
    report = NoticeReport()
    with transaction.atomic():
        blocks = (
            Block.objects.filter(
                agreement__status=AgreementStatus.ACTIVE,
                credited_at__isnull=False,
                cancelled_at__isnull=True,
                expires_on__gte=today,
                expires_on__lte=horizon,
                minutes_left__gt=0,
            )
            # A renewing term's hours may roll over: its renewal notice says what happens to them.
            .exclude(agreement__term_end_action=TermEndAction.RENEW, expires_on=F("agreement__ends_on"))
            .select_related("agreement__client")
        )
        for block in blocks:
            report.queued += _record_notice(
                agreement_id=block.agreement_id,
                kind=EmailKind.EXPIRY_NOTICE,
                topic=f"block-expiry:{block.public_id}",
                recipients=client_billing_recipients(block.agreement),
                context={
                    "block": block,
                    "unused": format_minutes(block.minutes_left),
                    "days_left": (block.expires_on - today).days,
                },
            )
        # A renewing agreement's notice goes with its renewal invoice (renewals_run).
        ending = Agreement.objects.filter(
            status=AgreementStatus.ACTIVE, term_end_action=TermEndAction.END, ends_on__gte=today, ends_on__lte=horizon
        ).select_related("client")
        for agreement in ending:
            report.queued += _record_notice(
                agreement_id=agreement.pk,
                kind=EmailKind.RENEWAL_NOTICE,
                topic=f"term-end:{agreement.public_id}:{agreement.ends_on:%Y-%m-%d}",
                recipients=_unique(client_billing_recipients(agreement) + staff_recipients()),
                context={"days_left": (agreement.ends_on - today).days},
            )
        report.recorded = len(report.queued)
        for email_id in report.queued:
            # Catch-up if the broker loses it: the sweep resends every pending email that is due.
            transaction.on_commit(lambda email_id=email_id: send(email_id))
    return report


# ---------------------------------------------------------------------------
# An invoice emailed on request (staff, or right after a sale)


def invoice_send(*, invoice: Invoice, send: Enqueue) -> list[OutgoingEmail]:
    """Email an issued invoice with its PDF to the client's billing contacts.

    A repeat within the same minute (a double click, a retried request) is the
    same send and records nothing more; a later resend is a new one.
    """
    if invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.PAID):
        raise ValidationError(_("Only an issued or paid invoice can be emailed."))
    if not client_billing_recipients(invoice.agreement):
        raise ValidationError(
            _("%(client)s has no billing email address or billing contact: add one on the client page first.")
            % {"client": invoice.client}
        )
    return _invoice_emails_record(invoice, topic=f"invoice:{invoice.public_id}:{timezone.now():%Y%m%d%H%M}", send=send)


def _invoice_emails_record(invoice: Invoice, *, topic: str, send: Enqueue) -> list[OutgoingEmail]:
    """The invoice email to each billing recipient, once per `topic`, queued after commit."""
    return _document_emails_record(invoice, kind=EmailKind.INVOICE, topic=topic, send=send, invoice=invoice)


# ---------------------------------------------------------------------------
# Credit notes: emailed once each, with the PDF, when a cancellation issues them


def credit_note_emails_record(*, credit_note: CreditNote, send: Enqueue) -> list[OutgoingEmail]:
    """The credit note email to each billing recipient, exactly once per
    credit note (the unique topic/kind/recipient holds it against retries),
    queued after commit. No recipient: nothing is recorded, and staff hand
    the PDF over from the client page."""
    return _document_emails_record(
        credit_note,
        kind=EmailKind.CREDIT_NOTE,
        topic=f"credit-note:{credit_note.public_id}",
        send=send,
        credit_note=credit_note,
    )


def emails_record(
    kind: str,
    *,
    topic: str,
    agreement_id: int,
    context: dict,
    recipients: list[str],
    default: str,
    send: Enqueue,
    **row: object,
) -> list[OutgoingEmail]:
    """One email of `kind` to each recipient, rendered in their language,
    recorded once per topic, kind and recipient (the unique row holds it
    against retries and double clicks); sending is queued after commit.
    `row` sets more fields of the email row (the document it attaches)."""
    rendered_for = emails.render_each(kind, context, recipient_languages(recipients, default=default))
    recorded = []
    for recipient, rendered in rendered_for.items():
        email, created = OutgoingEmail.objects.get_or_create(
            topic=topic,
            kind=kind,
            recipient=recipient,
            defaults={
                "agreement_id": agreement_id,
                **row,
                "subject": rendered.subject,
                "body_text": rendered.body_text,
                "body_html": rendered.body_html,
            },
        )
        recorded.append(email)
        if created:
            # After commit: a worker must not look for a row that is not there
            # yet. Catch-up if the broker loses it: the sweep resends every
            # pending email that is due.
            transaction.on_commit(lambda email_id=email.pk: send(email_id))
    return recorded


def _document_emails_record(
    document: Invoice | CreditNote, *, kind: str, topic: str, send: Enqueue, **attached: object
) -> list[OutgoingEmail]:
    """A document's email (its PDF attached when sent) to each billing
    recipient in their language. `attached` names the document on the email
    row and in the templates."""
    with transaction.atomic():
        return emails_record(
            kind,
            topic=topic,
            agreement_id=document.agreement_id,
            context=_email_context(document.agreement_id, **attached),
            recipients=client_billing_recipients(document.agreement),
            default=document.language,
            send=send,
            **attached,
        )


def _email_credit_notes(result: credit_notes.Cancellation, send: Enqueue) -> credit_notes.Cancellation:
    for credit_note in result.credit_notes:
        credit_note_emails_record(credit_note=credit_note, send=send)
    return result


def block_unused_cancel_and_notify(*, send: Enqueue, **cancel: object) -> credit_notes.Cancellation:
    """billing's block_unused_cancel, and its credit note emailed, all or nothing."""
    with transaction.atomic():
        return _email_credit_notes(credit_notes.block_unused_cancel(**cancel), send)


def agreement_cancel_and_notify(*, send: Enqueue, **cancel: object) -> credit_notes.Cancellation:
    """billing's agreement_cancel, and each credit note emailed, all or nothing."""
    with transaction.atomic():
        return _email_credit_notes(credit_notes.agreement_cancel(**cancel), send)


# ---------------------------------------------------------------------------
# Overage: billed at the monthly close (beat), with every sale (billing's
# block_sale_invoices) and on request by staff


@dataclass
class OverageCloseReport:
    billed: list[Invoice] = field(default_factory=list)
    due: list[tuple[Agreement, int]] = field(default_factory=list)  # what a dry run would bill
    failed: list[tuple[Agreement, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"Overage invoiced: {invoice.number} for {invoice.client} "
            f"({format_minutes(invoice.overage_minutes)}, {invoice.total} {invoice.currency})"
            for invoice in self.billed
        ]
        lines += [
            f"Would invoice: {agreement.client} — {agreement.name} ({format_minutes(minutes)}, "
            f"{money(billing_services.overage_rate_of(agreement) * minutes / 60)} {agreement.currency})"
            for agreement, minutes in self.due
        ]
        lines += [f"Not invoiced: {agreement.client} — {agreement.name}: {error}" for agreement, error in self.failed]
        return lines or ["No unbilled overage."]


def overage_close(*, send: Enqueue, dry_run: bool = False) -> OverageCloseReport:
    """Invoice every agreement's unbilled overage and email each invoice to
    the client's billing contacts. Safe to run twice or at once with a sale:
    the minutes are settled in the ledger with the invoice, and its emails are
    recorded once per invoice in the same transaction."""
    report = OverageCloseReport()
    for agreement in agreements_with_unbilled_overage():
        if dry_run:
            report.due.append((agreement, agreement_services.overage_unbilled_minutes(agreement)))
            continue
        try:
            with transaction.atomic():
                invoice = billing_services.invoice_bill_overage(agreement=agreement, actor=None)
                if invoice is not None:
                    _invoice_emails_record(invoice, topic=f"overage:{invoice.public_id}", send=send)
                    report.billed.append(invoice)
        except ValidationError as error:  # e.g. no seller profile yet: the next close tries again
            message = " ".join(error.messages)
            report.failed.append((agreement, message))
            log.error("Overage of agreement %s not invoiced: %s", agreement.pk, message)
    return report


# ---------------------------------------------------------------------------
# Renewals: the renewal invoice with its notice, then the term's end (beat)


@dataclass
class RenewalReport:
    invoiced: list[Invoice] = field(default_factory=list)
    closed: list[agreement_services.TermClose] = field(default_factory=list)
    would_invoice: list[Agreement] = field(default_factory=list)  # dry run
    would_close: list[agreement_services.TermEnd] = field(default_factory=list)  # dry run
    failed: list[tuple[Agreement, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"Renewal invoiced: {invoice.number} for {invoice.client} ({invoice.total} {invoice.currency})"
            for invoice in self.invoiced
        ]
        for close in self.closed:
            agreement = close.agreement
            if close.new_term_ends_on:
                lines.append(
                    f"Renewed: {agreement.client} — {agreement.name} until {close.new_term_ends_on:%Y-%m-%d} "
                    f"({format_minutes(close.rolled_minutes)} rolled over, "
                    f"{format_minutes(close.expired_minutes)} expired)"
                )
            else:
                lines.append(
                    f"Ended: {agreement.client} — {agreement.name} on {close.term_ends_on:%Y-%m-%d} "
                    f"({format_minutes(close.expired_minutes)} expired)"
                )
        lines += [
            f"Would invoice the renewal: {agreement.client} — {agreement.name} "
            f"({agreement.renewal_tier}, term ending {agreement.ends_on:%Y-%m-%d})"
            for agreement in self.would_invoice
        ]
        for plan in self.would_close:
            agreement = plan.agreement
            if plan.renews:
                lines.append(
                    f"Would renew: {agreement.client} — {agreement.name} until {plan.new_term_ends_on:%Y-%m-%d} "
                    f"({format_minutes(plan.rolled_minutes)} would roll over, "
                    f"{format_minutes(plan.expiring_minutes)} would expire)"
                )
            else:
                lines.append(
                    f"Would end: {agreement.client} — {agreement.name} on {plan.term_ends_on:%Y-%m-%d} "
                    f"({format_minutes(plan.expiring_minutes)} would expire)"
                )
        lines += [f"Not renewed: {agreement.client} — {agreement.name}: {error}" for agreement, error in self.failed]
        return lines or ["No renewal or term end due."]


def renewals_run(*, send: Enqueue, today: datetime.date | None = None, dry_run: bool = False) -> RenewalReport:
    """Issue the renewal invoices that are due (each emailed once with the
    renewal notice), then renew or end every agreement past its term and
    grace. Safe to run twice or twice at once: agreements.services holds the
    agreement's row lock and the Renewal row unique per term.
    With `dry_run` it only says what it would do."""
    today = today or timezone.localdate()
    report = RenewalReport()
    for agreement in agreement_services.renewals_due_to_open(today):
        if dry_run:
            report.would_invoice.append(agreement)
            continue
        try:
            with transaction.atomic():
                invoice = _renewal_invoice_and_notice(agreement, today, send)
        except ValidationError as error:  # e.g. no seller profile yet, tier withdrawn: the next run tries again
            message = " ".join(error.messages)
            report.failed.append((agreement, message))
            log.error("Renewal of agreement %s not invoiced: %s", agreement.pk, message)
            continue
        if invoice is not None:
            report.invoiced.append(invoice)
    for agreement in agreement_services.terms_due_to_close(today):
        if dry_run:
            plan = agreement_services.term_end_preview(agreement)
            if plan is not None:
                report.would_close.append(plan)
            continue
        closed = agreement_services.agreement_term_close(agreement=agreement, today=today)
        if closed is not None:
            report.closed.append(closed)
    return report


def _renewal_invoice_and_notice(agreement: Agreement, today: datetime.date, send: Enqueue) -> Invoice | None:
    """The sale, its invoice PDF and the notice emails commit together, or not at all."""
    sale = billing_services.renewal_invoice_issue(agreement=agreement, today=today, queue_pdf=False)
    if sale is None:
        return None  # another run sold it first
    invoice = sale.invoice
    if sale.overage_invoice is not None:
        _invoice_emails_record(sale.overage_invoice, topic=f"overage:{sale.overage_invoice.public_id}", send=send)
    billing_services.invoice_render_pdf(invoice=invoice)
    fresh = Agreement.objects.select_related("client", "renewal_tier").get(pk=agreement.pk)
    term_end = agreement_services.term_end_preview(fresh)
    queued = _record_notice(
        agreement_id=agreement.pk,
        kind=EmailKind.RENEWAL_NOTICE,
        topic=f"renewal:{invoice.block.public_id}",
        recipients=_unique(client_billing_recipients(fresh) + staff_recipients()),
        context={
            "term_end": term_end,
            "rolled": format_minutes(term_end.rolled_minutes),
            "expiring": format_minutes(term_end.expiring_minutes),
            "invoice": invoice,
        },
        invoice=invoice,
    )
    for email_id in queued:
        # Catch-up if the broker loses it: the sweep resends every pending email that is due.
        transaction.on_commit(lambda email_id=email_id: send(email_id))
    return invoice


# ---------------------------------------------------------------------------
# Online payments (payments.signals): a failed payment and money that could not be applied


def payment_failed_emails_record(*, invoice: Invoice, topic: str, reason: str, pay_url: str, send: Enqueue) -> None:
    """Tell the client (with the pay link to try again) and alert staff, once per topic."""
    _payment_emails_record(
        invoice.agreement_id,
        EmailKind.PAYMENT_FAILED,
        client_billing_recipients(invoice.agreement),
        default_language=invoice.language,
        topic=topic,
        send=send,
        invoice=invoice,
        reason=reason,
        pay_url=pay_url,
    )
    payment_alert_record(
        invoice=invoice,
        topic=topic,
        message=_("An online payment of invoice %(number)s failed: %(reason)s")
        % {"number": invoice.number, "reason": reason or "-"},
        send=send,
    )


def payment_alert_record(*, invoice: Invoice | None, topic: str, message: str, send: Enqueue) -> None:
    """Alert staff to an online payment that needs a person, once per topic."""
    _payment_emails_record(
        invoice.agreement_id if invoice is not None else None,
        EmailKind.PAYMENT_ALERT_STAFF,
        staff_recipients(),
        default_language=settings.LANGUAGE_CODE,
        topic=topic,
        send=send,
        invoice=invoice,
        message=message,
    )


def _payment_emails_record(
    agreement_id: int | None,
    kind: str,
    recipients: list[str],
    *,
    default_language: str,
    topic: str,
    send: Enqueue,
    **context: object,
) -> None:
    seller = billing_selectors.seller_profile_get()
    context = {
        "seller_name": seller.name if seller else "Blockhours",
        "site_url": settings.SITE_URL.rstrip("/"),
        **context,
    }
    invoice = context.get("invoice")
    if invoice is not None:
        context["client"] = invoice.client
    rendered_for = emails.render_each(kind, context, recipient_languages(recipients, default=default_language))
    for recipient, rendered in rendered_for.items():
        # Not attached: the invoice's PDF was sent with the invoice.
        email, created = OutgoingEmail.objects.get_or_create(
            topic=f"payment:{topic}"[:200],
            kind=kind,
            recipient=recipient,
            defaults={
                "agreement_id": agreement_id,
                "subject": rendered.subject,
                "body_text": rendered.body_text,
                "body_html": rendered.body_html,
            },
        )
        if created:
            # Catch-up if the broker loses it: the sweep resends every pending email that is due.
            transaction.on_commit(lambda email_id=email.pk: send(email_id))
