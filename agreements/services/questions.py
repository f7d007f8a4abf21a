"""A client questions a charge; staff explain it, credit minutes back, or correct the entry.

Only the credit and the correction change a balance, each exactly once: every
step runs under the agreement's row lock and re-reads the question there, so
a double click or two staff at once find it no longer open. The database
holds it too (one open question per entry, one credit entry per question).
Emails are recorded by notifications.questions, which wraps these functions.
"""

import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from agreements.domain import format_minutes
from agreements.models import (
    ChargeQuestion,
    LedgerEntry,
    LedgerKind,
    OveragePolicy,
    QuestionStatus,
    TimeEntry,
    WorkType,
)
from agreements.services.ledger import _lock, _write
from agreements.services.time_entries import time_entry_correct
from audit.models import AuditAction
from audit.services import audit_record

MAX_TEXT = 2000


def question_window_starts_on(today: datetime.date | None = None) -> datetime.date:
    """The oldest work date a contact can still question."""
    return (today or timezone.localdate()) - datetime.timedelta(days=settings.QUESTION_WINDOW_DAYS)


def _clean_text(value: object, field: str, required_message: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationError({field: required_message})
    if len(text) > MAX_TEXT:
        raise ValidationError({field: gettext("Keep it under %(max)s characters.") % {"max": MAX_TEXT}})
    if "\x00" in text:
        raise ValidationError({field: gettext("The text contains a character that is not allowed.")})
    return text


def question_raise(*, time_entry: TimeEntry, raised_by: User, reason: str) -> ChargeQuestion:
    """A contact of the entry's client questions it, with a reason."""
    contact = getattr(raised_by, "client_contact", None)
    if not raised_by.is_client_contact or contact is None or contact.client_id != time_entry.agreement.client_id:
        raise PermissionDenied(gettext("Only the client's own contacts can question its charges."))
    reason = _clean_text(reason, "reason", gettext("Say what is wrong with this charge."))
    with transaction.atomic():
        agreement = _lock(time_entry.agreement)
        time_entry = TimeEntry.objects.select_related("ticket").get(pk=time_entry.pk)
        if time_entry.is_void:
            raise ValidationError(gettext("This time entry was voided; it no longer charges anything."))
        if time_entry.work_date < question_window_starts_on():
            raise ValidationError(
                gettext("Charges can be questioned for %(days)s days after the work; this one is older.")
                % {"days": settings.QUESTION_WINDOW_DAYS}
            )
        if ChargeQuestion.objects.filter(time_entry=time_entry, status=QuestionStatus.OPEN).exists():
            raise ValidationError(gettext("This charge is already questioned; we will answer that question first."))
        question = ChargeQuestion(time_entry=time_entry, raised_by=raised_by, reason=reason)
        try:
            with transaction.atomic():
                question.save()
        except IntegrityError:
            # Raised twice at the same moment: the database kept the first.
            raise ValidationError(
                gettext("This charge is already questioned; we will answer that question first.")
            ) from None
        audit_record(
            actor=raised_by,
            action=AuditAction.QUESTION_RAISE,
            target=question,
            client=agreement.client,
            before={},
            after={"time_entry": time_entry.public_id, "charged_minutes": time_entry.charged_minutes, "reason": reason},
            summary=format_lazy(
                gettext_lazy("{user} questioned the charge of {duration} on ticket #{ticket} ({date}) for {client}"),
                user=raised_by.username,
                duration=format_minutes(time_entry.charged_minutes),
                ticket=time_entry.ticket.number,
                date=time_entry.work_date.isoformat(),
                client=agreement.client.name,
            ),
        )
    return question


def _check_staff(actor: User) -> None:
    if not actor.is_msp_staff:
        raise PermissionDenied(gettext("Only MSP staff answer questions about charges."))


def _open_locked(question: ChargeQuestion) -> tuple[ChargeQuestion, object]:
    """Lock the entry's agreement, then re-read the question: a double click
    or another staff member who answered a moment ago finds it answered."""
    agreement = _lock(question.time_entry.agreement)
    question = (
        ChargeQuestion.objects.select_for_update(of=("self",))
        .select_related("time_entry__ticket", "time_entry__agreement__client", "raised_by")
        .get(pk=question.pk)
    )
    if question.status != QuestionStatus.OPEN:
        raise ValidationError(
            gettext("This question was already answered (%(outcome)s).")
            % {"outcome": question.get_status_display().lower()}
        )
    return question, agreement


def _resolve(question: ChargeQuestion, *, status: str, actor: User, reply: str, **fields: object) -> None:
    question.status = status
    question.reply = reply
    question.resolved_by = actor
    question.resolved_at = timezone.now()
    for name, value in fields.items():
        setattr(question, name, value)
    question.save(update_fields=["status", "reply", "resolved_by", "resolved_at", *fields])


def question_explain(*, question: ChargeQuestion, actor: User, reply: str) -> ChargeQuestion:
    """Staff explain the charge; nothing changes."""
    _check_staff(actor)
    reply = _clean_text(reply, "reply", gettext("Write the explanation the client will read."))
    with transaction.atomic():
        question, agreement = _open_locked(question)
        _resolve(question, status=QuestionStatus.EXPLAINED, actor=actor, reply=reply)
        _audit(question, agreement, AuditAction.QUESTION_EXPLAIN, actor, balance=agreement.balance_minutes)
    return question


def question_creditable_minutes(question: ChargeQuestion) -> int:
    """How many of the entry's minutes a credit may give back as hours.

    Under bill-overage, the part the entry charged beyond every block (its
    debits without a block) is money once an invoice billed overage after the
    entry was charged: giving it back as hours would pay for it twice, so it
    takes a credit note from that invoice instead.
    """
    entry = question.time_entry
    charged = entry.charged_minutes
    agreement = entry.agreement
    if agreement.overage_policy != OveragePolicy.BILL_OVERAGE:
        return charged
    beyond_blocks = -(
        entry.ledger.filter(kind=LedgerKind.DEBIT, block__isnull=True).aggregate(total=Sum("minutes"))["total"] or 0
    )
    billed_since = LedgerEntry.objects.filter(
        agreement=agreement, kind=LedgerKind.OVERAGE_BILLED, created_at__gte=entry.created_at
    ).exists()
    return charged - beyond_blocks if beyond_blocks and billed_since else charged


def question_credit(*, question: ChargeQuestion, actor: User, minutes: int, reply: str) -> ChargeQuestion:
    """Give back up to the entry's charged minutes, by one ledger entry that names the question."""
    _check_staff(actor)
    reply = _clean_text(reply, "reply", gettext("Tell the client why the minutes are credited."))
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
        raise ValidationError({"minutes": gettext("Enter a whole number of minutes, more than zero.")})
    with transaction.atomic():
        question, agreement = _open_locked(question)
        entry = question.time_entry
        if entry.is_void:
            # Its reversal gave every minute back already: a credit would give them twice.
            raise ValidationError(
                gettext("This entry was voided after the question: its minutes are back already. Explain instead.")
            )
        if minutes > entry.charged_minutes:
            raise ValidationError(
                {
                    "minutes": gettext("At most %(charged)s min can be credited: that is what the entry charged.")
                    % {"charged": entry.charged_minutes}
                }
            )
        creditable = question_creditable_minutes(question)
        if minutes > creditable:
            raise ValidationError(
                {
                    "minutes": gettext(
                        "%(billed)s min of this entry were billed as overage on an invoice: credit them with a "
                        "credit note on that invoice. At most %(creditable)s min can be given back as hours."
                    )
                    % {"billed": entry.charged_minutes - creditable, "creditable": creditable}
                }
            )
        balance_before = agreement.balance_minutes
        # Stored: written in the language active now, like every ledger reason.
        reason = gettext("Credited after the client's question on ticket #%(ticket)s (%(date)s)") % {
            "ticket": entry.ticket.number,
            "date": entry.work_date.isoformat(),
        }
        _write(
            agreement,
            [
                LedgerEntry(
                    agreement=agreement,
                    block=None,
                    kind=LedgerKind.QUESTION_CREDIT,
                    minutes=minutes,
                    time_entry=entry,
                    question=question,
                    reason=reason[:500],
                    author=actor,
                )
            ],
        )
        _resolve(question, status=QuestionStatus.CREDITED, actor=actor, reply=reply, credited_minutes=minutes)
        _audit(
            question,
            agreement,
            AuditAction.QUESTION_CREDIT,
            actor,
            balance=agreement.balance_minutes,
            balance_before=balance_before,
            minutes=minutes,
        )
    return question


def question_correct(
    *,
    question: ChargeQuestion,
    actor: User,
    reply: str,
    minutes: int | None = None,
    work_type: WorkType | None = None,
    work_date: datetime.date | None = None,
    notes: str | None = None,
) -> ChargeQuestion:
    """Correct the questioned entry through time_entry_correct and resolve the question."""
    _check_staff(actor)
    reply = _clean_text(reply, "reply", gettext("Tell the client what was corrected."))
    with transaction.atomic():
        question, agreement = _open_locked(question)
        balance_before = agreement.balance_minutes
        replacement = time_entry_correct(
            time_entry=question.time_entry,
            actor=actor,
            reason=gettext("Corrected after the client's question"),
            minutes=minutes,
            work_type=work_type,
            work_date=work_date,
            notes=notes,
        )
        _resolve(question, status=QuestionStatus.CORRECTED, actor=actor, reply=reply, correction=replacement)
        agreement = _lock(agreement)
        _audit(
            question,
            agreement,
            AuditAction.QUESTION_CORRECT,
            actor,
            balance=agreement.balance_minutes,
            balance_before=balance_before,
            replacement=replacement.public_id,
        )
    return question


def _audit(
    question: ChargeQuestion,
    agreement: object,
    action: str,
    actor: User,
    *,
    balance: int,
    balance_before: int | None = None,
    **after: object,
) -> None:
    entry = question.time_entry
    audit_record(
        actor=actor,
        action=action,
        target=question,
        client=agreement.client,
        before={
            "status": QuestionStatus.OPEN,
            "balance_minutes": balance if balance_before is None else balance_before,
        },
        after={"status": question.status, "balance_minutes": balance, "reply": question.reply, **after},
        summary=format_lazy(
            gettext_lazy("Answered {client}'s question on ticket #{ticket} ({date}): {outcome}"),
            client=agreement.client.name,
            ticket=entry.ticket.number,
            date=entry.work_date.isoformat(),
            outcome=question.get_status_display(),
        ),
    )


def questions_open() -> QuerySet[ChargeQuestion]:
    """Open questions, oldest first, for staff (one query)."""
    return (
        ChargeQuestion.objects.filter(status=QuestionStatus.OPEN)
        .select_related(
            "time_entry__ticket",
            "time_entry__technician",
            "time_entry__work_type",
            "time_entry__agreement__client",
            "raised_by",
        )
        .order_by("created_at", "id")
    )
