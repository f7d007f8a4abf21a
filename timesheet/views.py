"""Technician time entry: log with a preview of the charge, and "My time"."""

import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agreements import services
from agreements.domain import format_minutes
from agreements.models import Agreement, Block, Client, LedgerEntry, LedgerKind, TimeEntry
from agreements.selectors import agreement_get_for_user, clients_for_user, estimates_for_user, time_entries_for_user
from agreements.services.timers import timer_elapsed_minutes
from notifications import estimates as estimate_notify
from notifications.tasks import queue_agreement_check, queue_sending
from timesheet.forms import (
    AgreementChoices,
    CorrectForm,
    EstimateForm,
    TimeEntryForm,
    TimerMinutesForm,
    TimerStartForm,
    VoidForm,
    agreement_label,
)
from ui.access import get_by_public_id, msp_required
from ui.forms import add_service_errors


@dataclass(frozen=True)
class TakenFrom:
    """Part of the charge and where the ledger took it: a block, or none (beyond every block)."""

    block: Block | None
    minutes: int


@dataclass(frozen=True)
class Outcome:
    agreement: Agreement
    entry: TimeEntry
    balance_before: int
    balance_after: int
    chosen_by_order: bool  # logged for the client: the agreement is the one its order chose
    taken_from: tuple[TakenFrom, ...] = ()

    @property
    def low(self) -> bool:
        return self.balance_after <= self.agreement.low_balance_threshold_minutes


class _DryRun(Exception):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def _log(user, data: dict, *, dry_run: bool) -> Outcome:  # noqa: ANN001
    """Log the entry through the services. A dry run does everything — the
    choice of agreement, the same rounding, multiplier and overage rules — and
    then rolls back, so the preview can never disagree with what saving will do."""
    client: Client = data["client"]
    chosen: Agreement | None = data["agreement"]
    try:
        with transaction.atomic():
            before = dict(Agreement.objects.filter(client=client).values_list("pk", "balance_minutes"))
            ticket = services.ticket_get_or_create(client=client, number=data["ticket"], subject=data["subject"])
            fields = {
                "technician": user,
                "ticket": ticket,
                "work_date": data["work_date"],
                "started_at": data.get("started_at"),
                "minutes": data["duration"],
                "work_type": data["work_type"],
                "notes": data["notes"],
                "idempotency_key": None if dry_run else (data.get("idempotency_key") or None),
            }
            if chosen is not None:
                entry = services.time_entry_log(agreement=chosen, **fields)
            else:
                entry = services.time_entry_log_for_client(client=client, **fields)
            agreement = Agreement.objects.select_related("client").get(pk=entry.agreement_id)
            outcome = Outcome(
                agreement=agreement,
                entry=entry,
                balance_before=before[agreement.pk],
                balance_after=agreement.balance_minutes,
                chosen_by_order=chosen is None,
                # Read before the dry run rolls back: the blocks the ledger drew on, in its burn order.
                taken_from=tuple(
                    TakenFrom(block=row.block, minutes=-row.minutes)
                    for row in LedgerEntry.objects.filter(time_entry=entry, kind=LedgerKind.DEBIT)
                    .select_related("block")
                    .order_by("pk")
                ),
            )
            if dry_run:
                raise _DryRun(outcome)
            if data.get("timer"):  # the entry a timer prefilled is saved: that timer is done
                services.timer_end(technician=user, timer_id=data["timer"])
            queue_agreement_check(agreement.pk)  # a low or exhausted balance is noticed at once
    except _DryRun as dry:
        return dry.outcome
    return outcome


def _hours_and_minutes(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def _timer_form_data(stopped: services.TimerStop, minutes: int, choices: AgreementChoices) -> dict[str, str]:
    """The time form as if typed: what the timer knew, and the elapsed (or corrected) minutes."""
    prefill = stopped.prefill
    return {
        "agreement": choices.label_for(stopped.agreement, stopped.client),
        "ticket": stopped.ticket.number,
        "subject": "",
        "work_date": prefill["work_date"].isoformat(),
        "started_at": f"{prefill['started_at']:%H:%M}",
        "duration": _hours_and_minutes(minutes),
        "work_type": str(stopped.work_type.pk),
        "notes": stopped.notes,
        "idempotency_key": uuid.uuid4().hex,
        "timer": str(stopped.timer_id),
    }


def _render_log(request: HttpRequest, form: TimeEntryForm, **context: object) -> HttpResponse:
    timer = services.timer_current(technician=request.user)
    if timer is None and "timer_form" not in context:
        context["timer_form"] = TimerStartForm(user=request.user)
    recent = time_entries_for_user(request.user).filter(technician=request.user)[:5]
    return render(
        request,
        "timesheet/log.html",
        {
            "form": form,
            "agreement_labels": form.choices.by_label.keys(),
            "recent": recent,
            "timer": timer,
            "timer_elapsed": timer and timer_elapsed_minutes(started_at=timer.started_at, now=timezone.now()),
            "timer_started_today": timer and timezone.localtime(timer.started_at).date() == timezone.localdate(),
            **context,
        },
    )


@msp_required
def log(request: HttpRequest) -> HttpResponse:
    initial = {}
    if "agreement" in request.GET:
        try:
            initial["agreement"] = agreement_label(agreement_get_for_user(request.user, request.GET["agreement"]))
        except Agreement.DoesNotExist:
            pass
    elif "client" in request.GET:  # from a client page: its agreements take the time in their order
        try:
            initial["agreement"] = get_by_public_id(clients_for_user(request.user), request.GET["client"]).name
        except Http404:
            pass
    choices = AgreementChoices(request.user)
    data = request.POST or None
    stopped: services.TimerStop | None = None
    if request.method == "GET" and "stop" in request.GET:
        # Stopping the timer opens this form prefilled, with the charge
        # preview; the timer runs on until the entry is saved.
        try:
            stopped = services.timer_stop(technician=request.user, dry_run=True)
        except ValidationError as error:
            messages.info(request, error.messages[0])
            return redirect("timesheet:log")
        minutes = stopped.minutes
        if stopped.crosses_midnight():
            # Probably left running overnight: ask before taking the minutes.
            asked = "confirmed" in request.GET
            minutes_form = TimerMinutesForm(
                request.GET if asked else None, initial={"minutes": _hours_and_minutes(minutes)}
            )
            if not (asked and minutes_form.is_valid()):
                return _render_log(
                    request,
                    TimeEntryForm(user=request.user, choices=choices),
                    midnight_question=services.timer_midnight_question(stopped),
                    minutes_form=minutes_form,
                )
            minutes = minutes_form.cleaned_data["minutes"]
        data = _timer_form_data(stopped, minutes, choices)
    form = TimeEntryForm(data, user=request.user, choices=choices, initial=initial)
    preview: Outcome | None = None
    if data is not None and form.is_valid():
        confirmed = "save" in request.POST
        try:
            outcome = _log(request.user, form.cleaned_data, dry_run=not confirmed)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if not confirmed:
                preview = outcome
            else:
                entry = outcome.entry
                facts = {
                    "worked": format_minutes(entry.minutes),
                    "ticket": entry.ticket.number,
                    "client": outcome.agreement.client,
                    "agreement": outcome.agreement.name,
                    "charged": format_minutes(entry.charged_minutes),
                    "balance": format_minutes(outcome.balance_after),
                }
                if outcome.chosen_by_order:
                    message = _(
                        "Logged %(worked)s on ticket #%(ticket)s for %(client)s: charged %(charged)s to "
                        "“%(agreement)s”, balance now %(balance)s."
                    )
                else:
                    message = _(
                        "Logged %(worked)s on ticket #%(ticket)s for %(client)s: "
                        "charged %(charged)s, balance now %(balance)s."
                    )
                messages.success(request, message % facts)
                if outcome.low:
                    messages.warning(
                        request,
                        _("%(client)s is at or below its low-balance threshold (%(threshold)s).")
                        % {
                            "client": outcome.agreement.client,
                            "threshold": format_minutes(outcome.agreement.low_balance_threshold_minutes),
                        },
                    )
                return redirect("timesheet:log")
    waiting = services.estimates_waiting_on_ticket(preview.entry.ticket) if preview is not None else []
    return _render_log(request, form, preview=preview, waiting_estimates=waiting)


@msp_required
@require_POST
def timer_start(request: HttpRequest) -> HttpResponse:
    """Start a timer: from the time page's timer form, or on the ticket of one of the user's entries."""
    if "entry" in request.POST:
        entry = _own_entry(request, request.POST["entry"])
        try:
            services.timer_start(
                technician=request.user,
                client=entry.agreement.client,
                agreement=entry.agreement,
                ticket=entry.ticket,
                work_type=entry.work_type,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(_back(request))
        messages.success(request, _("Timer started on ticket #%(ticket)s.") % {"ticket": entry.ticket.number})
        return redirect("timesheet:log")
    timer_form = TimerStartForm(request.POST, user=request.user)
    if timer_form.is_valid():
        data = timer_form.cleaned_data
        try:
            with transaction.atomic():  # a refused start leaves no new ticket behind
                ticket = services.ticket_get_or_create(
                    client=data["client"], number=data["ticket"], subject=data["subject"]
                )
                services.timer_start(
                    technician=request.user,
                    client=data["client"],
                    agreement=data["agreement"],
                    ticket=ticket,
                    work_type=data["work_type"],
                    notes=data["notes"],
                )
        except ValidationError as error:
            add_service_errors(timer_form, error)
        else:
            messages.success(request, _("Timer started on ticket #%(ticket)s.") % {"ticket": ticket.number})
            return redirect("timesheet:log")
    return _render_log(request, TimeEntryForm(user=request.user), timer_form=timer_form)


@msp_required
@require_POST
def timer_discard(request: HttpRequest) -> HttpResponse:
    try:
        services.timer_discard(technician=request.user)
    except ValidationError as error:
        messages.info(request, error.messages[0])
    else:
        messages.success(request, _("Timer discarded: nothing was logged."))
    return redirect("timesheet:log")


@msp_required
def mine(request: HttpRequest) -> HttpResponse:
    entries = time_entries_for_user(request.user).filter(technician=request.user).select_related("voided_by")
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "timesheet/mine.html", {"page": page})


def _own_entry(request: HttpRequest, public_id: str) -> TimeEntry:
    """Technicians change only their own entries; staff any (the services check it too)."""
    entries = time_entries_for_user(request.user)
    if not request.user.is_msp_staff:
        entries = entries.filter(technician=request.user)
    return get_by_public_id(entries, public_id)


def _back(request: HttpRequest) -> str:
    """Where to go after a change: a local `next` (the staff client page), else the list."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("timesheet:mine") if request.user.is_technician else reverse("dashboard:home")


@msp_required
def void(request: HttpRequest, public_id: str) -> HttpResponse:
    entry = _own_entry(request, public_id)
    form = VoidForm(request.POST or None)
    if entry.is_void:
        messages.info(request, _("This entry is already void."))
        return redirect(_back(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.time_entry_void(time_entry=entry, actor=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            entry.agreement.refresh_from_db()
            messages.success(
                request,
                _(
                    "Voided %(worked)s on ticket #%(ticket)s: %(charged)s given back to %(client)s "
                    "(balance now %(balance)s)."
                )
                % {
                    "worked": format_minutes(entry.minutes),
                    "ticket": entry.ticket.number,
                    "charged": format_minutes(entry.charged_minutes),
                    "client": entry.agreement.client,
                    "balance": format_minutes(entry.agreement.balance_minutes),
                },
            )
            return redirect(_back(request))
    return render(request, "timesheet/void.html", {"entry": entry, "form": form, "next": _back(request)})


@msp_required
def correct(request: HttpRequest, public_id: str) -> HttpResponse:
    entry = _own_entry(request, public_id)
    if entry.is_void:
        messages.info(request, _("This entry is void; log a new one instead."))
        return redirect(_back(request))
    initial = {
        "work_date": entry.work_date,
        "started_at": entry.started_at,
        "duration": f"{entry.minutes // 60}:{entry.minutes % 60:02d}",
        "work_type": entry.work_type,
        "notes": entry.notes,
    }
    form = CorrectForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            new = services.time_entry_correct(
                time_entry=entry,
                actor=request.user,
                reason=data["reason"],
                minutes=data["duration"],
                work_type=data["work_type"],
                work_date=data["work_date"],
                notes=data["notes"],
                started_at=data["started_at"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("Corrected ticket #%(ticket)s: now %(worked)s worked, %(charged)s charged.")
                % {
                    "ticket": entry.ticket.number,
                    "worked": format_minutes(new.minutes),
                    "charged": format_minutes(new.charged_minutes),
                },
            )
            return redirect(_back(request))
    return render(request, "timesheet/correct.html", {"entry": entry, "form": form})


@msp_required
def estimate_new(request: HttpRequest) -> HttpResponse:
    """A technician or staff member estimates a ticket's work before starting it."""
    initial = {}
    if "client" in request.GET:
        try:
            initial["agreement"] = get_by_public_id(clients_for_user(request.user), request.GET["client"]).name
        except Http404:
            pass
    form = EstimateForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():  # a refused estimate leaves no new ticket behind
                ticket = services.ticket_get_or_create(
                    client=data["client"], number=data["ticket"], subject=data["subject"]
                )
                estimate = estimate_notify.estimate_create_and_notify(
                    ticket=ticket,
                    actor=request.user,
                    minutes=data["duration"],
                    work_type=data["work_type"],
                    description=data["description"],
                    send=queue_sending,
                )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            facts = {
                "ticket": ticket.number,
                "minutes": format_minutes(estimate.minutes),
                "charged": format_minutes(estimate.charged_minutes),
            }
            if estimate.auto_approved:
                messages.success(
                    request,
                    _(
                        "Estimate of %(minutes)s on ticket #%(ticket)s approved automatically: the balance covers %(charged)s."
                    )
                    % facts,
                )
            else:
                messages.warning(
                    request,
                    _(
                        "Estimate of %(minutes)s on ticket #%(ticket)s needs the client's approval: the balance does "
                        "not cover %(charged)s. The billing contacts were emailed."
                    )
                    % facts,
                )
            if request.user.is_msp_staff:
                return redirect("dashboard:client", public_id=data["client"].public_id)
            return redirect("timesheet:estimate_new")
    return render(
        request,
        "timesheet/estimate.html",
        {
            "form": form,
            "agreement_labels": [label for label, v in form.choices.by_label.items() if isinstance(v, Client)],
            "estimates": estimates_for_user(request.user).filter(created_by=request.user).order_by("-created_at")[:20],
        },
    )


@msp_required
@require_POST
def estimate_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    estimate = get_by_public_id(estimates_for_user(request.user), public_id)
    try:
        services.estimate_cancel(estimate=estimate, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Estimate on ticket #%(ticket)s cancelled.") % {"ticket": estimate.ticket.number})
    return redirect(_back(request))
