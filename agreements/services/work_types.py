"""Work types: the rates time is charged at (Normal 1×, After-hours 1.5×,
Non-billable 0×...). Staff add and change them here, audited. A change of
multiplier applies to time logged from then on: entries keep the charge they
were logged with, which is in the ledger."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from accounts.validators import check_single_line
from agreements.models import WorkType
from audit.models import AuditAction
from audit.services import audit_record

MAX_MULTIPLIER = Decimal("10")


def _state(work_type: WorkType) -> dict:
    return {
        "name": work_type.name,
        "multiplier": work_type.multiplier,
        "is_active": work_type.is_active,
        "is_after_hours": work_type.is_after_hours,
    }


def _checked_multiplier(value: object) -> Decimal:
    try:
        multiplier = Decimal(str(value))
    except (InvalidOperation, ValueError):
        multiplier = None
    if multiplier is None or not multiplier.is_finite() or not 0 <= multiplier <= MAX_MULTIPLIER:
        raise ValidationError(
            {"multiplier": gettext("Give a multiplier from 0 to %(max)s, e.g. 1.5.") % {"max": MAX_MULTIPLIER}}
        )
    if multiplier != multiplier.quantize(Decimal("0.01")):
        raise ValidationError({"multiplier": gettext("Give the multiplier with at most two decimals.")})
    return multiplier.quantize(Decimal("0.01"))


def work_type_save(
    *,
    work_type: WorkType | None,
    name: str,
    multiplier: object,
    is_active: bool,
    is_after_hours: bool,
    actor: User,
) -> WorkType:
    """Add a work type (`work_type` None) or change one. Flagging one as the
    after-hours rate takes the flag from the one that had it: there is one at most."""
    if not actor.is_msp_staff:
        raise PermissionDenied(gettext("Only MSP staff can change work types."))
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": gettext("Give the work type a name.")})
    check_single_line(name=name)
    if len(name) > WorkType._meta.get_field("name").max_length:
        raise ValidationError({"name": gettext("Keep the name under 100 characters.")})
    multiplier = _checked_multiplier(multiplier)
    if is_after_hours and not is_active:
        raise ValidationError({"is_after_hours": gettext("The after-hours rate must be a work type in use.")})
    with transaction.atomic():
        # Every work type locked, in key order: two saves at once cannot both
        # take a name or both keep the after-hours flag.
        locked = {row.pk: row for row in WorkType.objects.select_for_update().order_by("pk")}
        if work_type is None:
            before: dict = {}
            work_type = WorkType(name=name, multiplier=multiplier, is_active=is_active, is_after_hours=False)
        else:
            work_type = locked[work_type.pk]
            before = _state(work_type)
        others = [row for pk, row in locked.items() if pk != work_type.pk]
        if any(row.name.casefold() == name.casefold() for row in others):
            raise ValidationError({"name": gettext("A work type with this name exists already.")})
        previous_after_hours = (
            next((row for row in others if row.is_after_hours and row.is_active), None) if is_after_hours else None
        )
        work_type.name, work_type.multiplier = name, multiplier
        work_type.is_active, work_type.is_after_hours = is_active, is_after_hours
        after = _state(work_type)
        if before == after:
            return work_type
        if previous_after_hours is not None:
            previous_after_hours.is_after_hours = False
            previous_after_hours.save(update_fields=["is_after_hours"])
            after["after_hours_taken_from"] = previous_after_hours.name
        work_type.save()
        audit_record(
            actor=actor,
            action=AuditAction.WORK_TYPE_SAVE,
            target=work_type,
            client=None,
            before=before,
            after=after,
            summary=format_lazy(
                gettext_lazy("Work type {name} saved ({multiplier}×)."), name=name, multiplier=multiplier
            ),
        )
    return work_type
