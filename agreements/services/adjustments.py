"""Manual adjustments of a balance by staff, with a reason."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from accounts.validators import check_single_line
from agreements.domain import (
    MAX_BLOCK_MINUTES,
    format_minutes,
)
from agreements.models import (
    Agreement,
    LedgerEntry,
    LedgerKind,
)
from agreements.services.ledger import (
    _allocate_debit,
    _lock,
    _write,
)
from audit.models import AuditAction
from audit.services import audit_record


def ledger_adjust(*, agreement: Agreement, minutes: int, reason: str, author: User) -> list[LedgerEntry]:
    """A staff correction of the balance, with a reason. Credits go to the
    agreement's pool; debits are taken like time, oldest block first."""
    if not author.is_msp_staff:
        raise PermissionDenied(gettext("Only MSP staff can adjust a balance."))
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes == 0:
        raise ValidationError({"minutes": gettext("Enter a whole, non-zero number of minutes (negative to deduct).")})
    if abs(minutes) > MAX_BLOCK_MINUTES:
        raise ValidationError({"minutes": gettext("That adjustment is larger than any block; check the number.")})
    if not reason or not reason.strip():
        raise ValidationError({"reason": gettext("A reason is required for every adjustment.")})
    check_single_line(reason=reason.strip())
    with transaction.atomic():
        agreement = _lock(agreement)
        fields = {"reason": reason.strip(), "author": author}
        if minutes > 0:
            entries = [
                LedgerEntry(agreement=agreement, block=None, kind=LedgerKind.ADJUSTMENT, minutes=minutes, **fields)
            ]
        else:
            entries = _allocate_debit(agreement, -minutes, timezone.localdate(), LedgerKind.ADJUSTMENT, **fields)
        balance_before = agreement.balance_minutes
        _write(agreement, entries)
        audit_record(
            actor=author,
            action=AuditAction.LEDGER_ADJUST,
            target=agreement,
            client=agreement.client,
            before={"balance_minutes": balance_before},
            after={"balance_minutes": agreement.balance_minutes, "minutes": minutes, "reason": reason.strip()},
            summary=format_lazy(
                gettext_lazy("Adjusted the balance of {client} ({agreement}) by {sign}{duration}: {reason}"),
                client=agreement.client.name,
                agreement=agreement.name,
                sign="+" if minutes > 0 else "−",
                duration=format_minutes(abs(minutes)),
                reason=reason.strip(),
            ),
        )
    return entries
