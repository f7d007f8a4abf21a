"""The MSP's business-hours calendar: opening hours per weekday, holidays,
and which work type is the after-hours rate. Times are the MSP's local
wall-clock times (settings.TIME_ZONE). Staff change them here, audited;
time_entries reads them to split an entry with a start time."""

import datetime
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from accounts.validators import check_single_line
from agreements.domain import check_date_in_range
from agreements.models import Agreement, BusinessHours, Holiday, Weekday, WorkType
from audit.models import AuditAction
from audit.services import audit_record

OpeningHours = dict[int, tuple[datetime.time, datetime.time] | None]


def opening_hours() -> OpeningHours:
    """Each weekday's (opens, closes), None when closed (a weekday without a row too)."""
    hours: OpeningHours = dict.fromkeys(Weekday.values)
    for row in BusinessHours.objects.all():
        hours[row.weekday] = (row.opens, row.closes) if row.opens is not None else None
    return hours


def holidays_between(first: datetime.date, last: datetime.date) -> set[datetime.date]:
    return set(Holiday.objects.filter(date__range=(first, last)).values_list("date", flat=True))


def after_hours_work_type() -> WorkType | None:
    """The work type whose rate the after-hours part of an entry takes, if staff flagged one."""
    return WorkType.objects.filter(is_after_hours=True, is_active=True).first()


def _check_staff(actor: User) -> None:
    if not actor.is_msp_staff:
        raise PermissionDenied(gettext("Only MSP staff can change the business hours."))


def _text(hours: tuple[datetime.time, datetime.time] | None) -> str:
    return f"{hours[0]:%H:%M}–{hours[1]:%H:%M}" if hours else gettext("closed")


def business_hours_set(
    *, weekday: int, opens: datetime.time | None, closes: datetime.time | None, actor: User
) -> BusinessHours:
    """Open `weekday` from `opens` to `closes` (local times), or close it with both None."""
    _check_staff(actor)
    if weekday not in Weekday.values:
        raise ValidationError({"weekday": gettext("Choose a weekday from 0 (Monday) to 6 (Sunday).")})
    if (opens is None) != (closes is None):
        field = "closes" if closes is None else "opens"
        raise ValidationError({field: gettext("Give both the opening and the closing time, or neither (closed).")})
    if opens is not None and closes <= opens:
        raise ValidationError({"closes": gettext("The closing time must be after the opening time.")})
    for value in (opens, closes):
        if value is not None and (value.second or value.microsecond):
            raise ValidationError({"opens": gettext("Give times in whole minutes, e.g. 08:00.")})
    with transaction.atomic():
        row, _ = BusinessHours.objects.select_for_update().get_or_create(weekday=weekday)
        before = (row.opens, row.closes) if row.opens is not None else None
        after = (opens, closes) if opens is not None else None
        if before == after:
            return row
        row.opens, row.closes = opens, closes
        row.save()
        audit_record(
            actor=actor,
            action=AuditAction.BUSINESS_CALENDAR,
            target=("business_hours", str(weekday)),
            client=None,
            before={"weekday": weekday, "hours": _text(before)},
            after={"weekday": weekday, "hours": _text(after)},
            summary=format_lazy(
                gettext_lazy("Business hours on {weekday}: {before} → {after}"),
                weekday=Weekday(weekday).label,
                before=_text(before),
                after=_text(after),
            ),
        )
    return row


def holiday_add(*, date: datetime.date, name: str, actor: User) -> Holiday:
    _check_staff(actor)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": gettext("Name the holiday.")})
    check_single_line(name=name)
    check_date_in_range(date, field="date", today=timezone.localdate())
    taken = ValidationError({"date": gettext("%(date)s is already a holiday.") % {"date": f"{date:%Y-%m-%d}"}})
    holiday = Holiday(date=date, name=name)
    holiday.full_clean(validate_unique=False)
    with transaction.atomic():
        if Holiday.objects.filter(date=date).exists():
            raise taken
        try:
            with transaction.atomic():
                holiday.save()
        except IntegrityError:
            raise taken from None
        audit_record(
            actor=actor,
            action=AuditAction.BUSINESS_CALENDAR,
            target=holiday,
            client=None,
            before={},
            after={"date": date, "name": name},
            summary=format_lazy(gettext_lazy("Holiday added: {date} {name}"), date=f"{date:%Y-%m-%d}", name=name),
        )
    return holiday


def holiday_remove(*, holiday: Holiday, actor: User) -> None:
    _check_staff(actor)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=AuditAction.BUSINESS_CALENDAR,
            target=holiday,
            client=None,
            before={"date": holiday.date, "name": holiday.name},
            after={},
            summary=format_lazy(
                gettext_lazy("Holiday removed: {date} {name}"), date=f"{holiday.date:%Y-%m-%d}", name=holiday.name
            ),
        )
        Holiday.objects.filter(pk=holiday.pk).delete()


@dataclass(frozen=True)
class ChargingRules:
    """How an agreement's time is charged, for the pages that show it."""

    agreement: Agreement
    after_hours: WorkType | None
    open_days: list[tuple[str, datetime.time, datetime.time]]  # (weekday name, opens, closes)


def charging_rules_of(agreement: Agreement) -> ChargingRules:
    hours = opening_hours()
    open_days = [(Weekday(day).label, *hours[day]) for day in Weekday.values if hours[day] is not None]
    return ChargingRules(agreement=agreement, after_hours=after_hours_work_type(), open_days=open_days)
