"""A technician's timer on a ticket: started, stopped into the time form, or discarded.

The timer lives on the server (one row per technician), so it survives a
reload and a change of device. Stopping it charges nothing: it gives the
elapsed minutes and the time form's data, and the technician confirms the
entry through the usual time-entry services.
"""

import datetime
import math
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from agreements.domain import format_minutes
from agreements.models import Agreement, AgreementStatus, Client, Ticket, Timer, WorkType


@dataclass(frozen=True)
class TimerStop:
    """What a stopped timer gives the time form: nothing here is charged yet."""

    timer_id: uuid.UUID
    client: Client
    agreement: Agreement | None  # None: the client's agreements in their order
    ticket: Ticket
    work_type: WorkType
    notes: str
    started_at: datetime.datetime  # aware
    minutes: int  # elapsed, rounded up to a whole minute

    @property
    def started_local(self) -> datetime.datetime:
        return timezone.localtime(self.started_at)

    @property
    def work_date(self) -> datetime.date:
        return self.started_local.date()

    def crosses_midnight(self, now: datetime.datetime | None = None) -> bool:
        """Started on an earlier local day: probably left running overnight."""
        return self.work_date < timezone.localtime(now or timezone.now()).date()

    @property
    def prefill(self) -> dict[str, object]:
        """The time form's fields (the API and the page both use these names)."""
        return {
            "client": self.client,
            "agreement": self.agreement,
            "ticket": self.ticket,
            "work_date": self.work_date,
            "started_at": self.started_local.time().replace(second=0, microsecond=0),
            "minutes": self.minutes,
            "work_type": self.work_type,
            "notes": self.notes,
        }


def timer_elapsed_minutes(*, started_at: datetime.datetime, now: datetime.datetime) -> int:
    """Whole minutes, rounded up: a timer stopped after 61 seconds worked 2 minutes; never less than 1."""
    seconds = (now - started_at).total_seconds()
    return max(1, math.ceil(seconds / 60))


def timer_running_message(timer: Timer) -> str:
    return gettext(
        "A timer is already running on ticket #%(ticket)s since %(time)s: stop or discard it before starting another."
    ) % {"ticket": timer.ticket.number, "time": f"{timezone.localtime(timer.started_at):%H:%M}"}


def timer_start(
    *,
    technician: User,
    client: Client,
    ticket: Ticket,
    work_type: WorkType,
    agreement: Agreement | None = None,
    notes: str = "",
    now: datetime.datetime | None = None,
) -> Timer:
    """Start the technician's timer. A second running timer is refused with a clear message."""
    if not technician.works_for_msp:
        raise ValidationError(gettext("Only technicians and staff can run a timer."))
    errors: dict[str, str] = {}
    if ticket.client_id != client.pk:
        errors["ticket"] = gettext("This ticket belongs to another client.")
    if agreement is not None and (agreement.client_id != client.pk or agreement.status != AgreementStatus.ACTIVE):
        errors["agreement"] = gettext("Choose an active agreement of this client.")
    if not work_type.is_active:
        errors["work_type"] = gettext("This work type is no longer in use.")
    if len(notes) > 5000:
        errors["notes"] = gettext("Notes are limited to 5000 characters.")
    if errors:
        raise ValidationError(errors)
    running = Timer.objects.filter(technician=technician).select_related("ticket").first()
    if running is not None:
        raise ValidationError(timer_running_message(running))
    timer = Timer(
        technician=technician,
        client=client,
        agreement=agreement,
        ticket=ticket,
        work_type=work_type,
        notes=notes,
        started_at=now or timezone.now(),
    )
    try:
        with transaction.atomic():
            timer.save()
    except IntegrityError:
        # Two starts raced past the check above: the database kept the first.
        winner = Timer.objects.filter(technician=technician).select_related("ticket").first()
        if winner is None:
            raise
        raise ValidationError(timer_running_message(winner)) from None
    return timer


def timer_current(*, technician: User) -> Timer | None:
    return (
        Timer.objects.filter(technician=technician).select_related("client", "agreement", "ticket", "work_type").first()
    )


def _no_timer() -> ValidationError:
    return ValidationError(gettext("No timer is running."))


def timer_stop(*, technician: User, now: datetime.datetime | None = None, dry_run: bool = False) -> TimerStop:
    """Stop the technician's timer: the elapsed minutes and the time form's data.

    `dry_run=True` reads the same answer and leaves the timer running: the
    page shows the prefilled form and ends the timer only when the entry is
    saved, so a form left unsaved loses no time.
    """
    with transaction.atomic():
        timers = Timer.objects.filter(technician=technician).select_related(
            "client", "agreement", "ticket", "work_type"
        )
        timer = timers.first() if dry_run else timers.select_for_update(of=("self",)).first()
        if timer is None:
            raise _no_timer()
        stopped = TimerStop(
            timer_id=timer.public_id,
            client=timer.client,
            agreement=timer.agreement,
            ticket=timer.ticket,
            work_type=timer.work_type,
            notes=timer.notes,
            started_at=timer.started_at,
            minutes=timer_elapsed_minutes(started_at=timer.started_at, now=now or timezone.now()),
        )
        if not dry_run:
            timer.delete()
    return stopped


def timer_end(*, technician: User, timer_id: uuid.UUID) -> bool:
    """End the timer a saved time entry came from, in the entry's transaction.
    False when it is gone already (discarded or stopped on another device)."""
    deleted, _ = Timer.objects.filter(technician=technician, public_id=timer_id).delete()
    return bool(deleted)


def timer_discard(*, technician: User) -> None:
    """Throw the timer away: nothing is logged."""
    deleted, _ = Timer.objects.filter(technician=technician).delete()
    if not deleted:
        raise _no_timer()


def timer_midnight_question(stopped: TimerStop, *, now: datetime.datetime | None = None) -> str:
    """The question asked before stopping a timer that started on an earlier day."""
    today = timezone.localtime(now or timezone.now()).date()
    start = stopped.started_local
    facts = {"time": f"{start:%H:%M}", "worked": format_minutes(stopped.minutes)}
    if start.date() == today - datetime.timedelta(days=1):
        return gettext("This timer started yesterday at %(time)s — is %(worked)s right?") % facts
    return gettext("This timer started on %(date)s at %(time)s — is %(worked)s right?") % {
        **facts,
        "date": f"{start:%d %b %Y}",
    }
