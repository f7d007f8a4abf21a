"""The client portal: a client contact's own agreements, usage and requests."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agreements.domain import block_price, format_minutes
from agreements.models import Agreement, ClientContact, EstimateStatus, QuestionStatus
from agreements.runway import with_runway
from agreements.selectors import (
    agreements_for_user,
    clients_for_user,
    estimates_for_user,
    questions_for_user,
    time_entries_for_user,
)
from agreements.services import EstimateLinkError, estimate_for_link, question_window_starts_on, term_end_preview
from agreements.services.calendar import charging_rules_of
from agreements.summaries import balance_split, blocks_with_remaining
from billing.selectors import credit_notes_for_user, invoices_for_user
from notifications import estimates as estimate_notify
from notifications.questions import question_raise_and_notify
from notifications.tasks import queue_sending
from portal import services
from portal.forms import EstimateApproveForm, HoursRequestForm, QuestionForm, UsageFilterForm
from ui.access import client_required, get_by_public_id
from ui.csv import csv_response
from ui.panels import agreement_cards


@client_required
def home(request: HttpRequest) -> HttpResponse:
    client = clients_for_user(request.user).first()
    if client is None:  # a client-role user not (or no longer) tied to a client
        raise Http404(_("Your account is not linked to a client."))
    agreements = list(with_runway(agreements_for_user(request.user)).order_by("-status", "position"))
    billing_contacts = ClientContact.objects.filter(client=client, receives_invoices=True).select_related("user")
    requests = services.hours_requests_for_user(request.user).filter(status="open")
    waiting = estimates_for_user(request.user).filter(status=EstimateStatus.WAITING).order_by("created_at")
    return render(
        request,
        "portal/home.html",
        {
            "client": client,
            "cards": agreement_cards(agreements),
            "billing_contacts": billing_contacts,
            "requests": requests,
            "waiting_estimates": waiting,
            "invoices": invoices_for_user(request.user)
            .prefetch_related("balances")
            .order_by("-created_at", "-id")[:50],
            "credit_notes": credit_notes_for_user(request.user)
            .select_related("stripe_refund")  # its refund through Stripe, if any
            .prefetch_related("balances")
            .order_by("-created_at", "-id")[:50],
            "today": timezone.localdate(),
        },
    )


def _usage(request: HttpRequest, agreement: Agreement) -> tuple[UsageFilterForm, object]:
    form = UsageFilterForm(request.GET or None)
    entries = (
        time_entries_for_user(request.user)
        .filter(agreement=agreement, voided_at__isnull=True)
        .order_by("-work_date", "-created_at")
    )
    if form.is_valid():
        if form.cleaned_data.get("start"):
            entries = entries.filter(work_date__gte=form.cleaned_data["start"])
        if form.cleaned_data.get("end"):
            entries = entries.filter(work_date__lte=form.cleaned_data["end"])
    return form, entries


@client_required
def agreement_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    scoped = agreements_for_user(request.user)
    agreement = get_by_public_id(with_runway(scoped), public_id)
    card = agreement_cards([agreement])[0]
    blocks = list(blocks_with_remaining(scoped.filter(pk=agreement.pk)).filter(cancelled_at__isnull=True))
    form, entries = _usage(request, agreement)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    _with_questions(request, list(page))
    return render(
        request,
        "portal/agreement.html",
        {
            "card": card,
            "agreement": agreement,
            "blocks": blocks,
            "split": balance_split(agreement, blocks),
            "filter_form": form,
            "page": page,
            "today": timezone.localdate(),
            "question_from": question_window_starts_on(),
            "term_end": term_end_preview(agreement),
            "charging": charging_rules_of(agreement),
            "invoices": invoices_for_user(request.user)
            .filter(agreement=agreement)
            .prefetch_related("balances")
            .order_by("-created_at", "-id")[:50],
            "credit_notes": credit_notes_for_user(request.user)
            .filter(agreement=agreement)
            .select_related("stripe_refund")  # its refund through Stripe, if any
            .prefetch_related("balances")
            .order_by("-created_at", "-id")[:50],
        },
    )


def _latest_questions(request: HttpRequest, entries: Q) -> dict[int, object]:
    """The latest question of each entry matched by `entries` (a filter on
    ChargeQuestion's time_entry), keyed by the entry that shows it: the
    questioned entry, or its replacement when the answer corrected it."""
    by_entry: dict[int, object] = {}
    # Oldest first, so the latest question of an entry wins.
    for question in questions_for_user(request.user).filter(entries).order_by("created_at", "id"):
        by_entry[question.correction_id or question.time_entry_id] = question
    return by_entry


def _with_questions(request: HttpRequest, entries: list) -> None:
    """Each entry's latest question (on it, or answered by correcting it into this one) as `entry.question`."""
    ids = [entry.pk for entry in entries]
    by_entry = _latest_questions(request, Q(time_entry__in=ids) | Q(correction__in=ids))
    for entry in entries:
        entry.question = by_entry.get(entry.pk)


def _question_cell(question: object) -> str:
    """The CSV's Question column: the status, and the minutes a credit gave back."""
    if question is None:
        return ""
    if question.status == QuestionStatus.CREDITED:
        credited = _("%(minutes)s credited") % {"minutes": format_minutes(question.credited_minutes)}
        return f"{question.get_status_display()} ({credited})"
    return str(question.get_status_display())


@client_required
def question_raise(request: HttpRequest, public_id: str) -> HttpResponse:
    entry = get_by_public_id(time_entries_for_user(request.user).filter(voided_at__isnull=True), public_id)
    form = QuestionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            question_raise_and_notify(
                time_entry=entry, raised_by=request.user, reason=form.cleaned_data["reason"], send=queue_sending
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Thank you — we received your question and will answer it by email."))
            return redirect("portal:agreement", public_id=entry.agreement.public_id)
    return render(request, "portal/question.html", {"entry": entry, "agreement": entry.agreement, "form": form})


@client_required
def usage_csv(request: HttpRequest, public_id: str) -> HttpResponse:
    agreement = get_by_public_id(agreements_for_user(request.user), public_id)
    _form, entries = _usage(request, agreement)
    # One query for the agreement's questions, not one per row.
    questions = _latest_questions(request, Q(time_entry__agreement=agreement))
    rows = (
        (
            e.work_date.isoformat(),
            e.technician.get_full_name() or e.technician.username,
            e.ticket.number,
            e.ticket.subject,
            e.work_type.name,
            e.minutes,
            e.charged_minutes,
            e.notes,
            _question_cell(questions.get(e.pk)),
        )
        for e in entries.iterator(chunk_size=2000)
    )
    header = [
        _("Date"),
        _("Technician"),
        _("Ticket"),
        _("Subject"),
        _("Work type"),
        _("Worked (min)"),
        _("Charged (min)"),
        _("Notes"),
        _("Question"),
    ]
    filename = f"usage-{slugify(agreement.client.name)[:40]}-{timezone.localdate():%Y-%m-%d}.csv"
    return csv_response(filename, header, rows)


@client_required
def buy_hours(request: HttpRequest, public_id: str) -> HttpResponse:
    agreement = get_by_public_id(agreements_for_user(request.user), public_id)
    form = HoursRequestForm(request.POST or None)
    client = agreement.client
    offers = [
        (
            tier,
            *block_price(
                hourly_rate=client.hourly_rate, discount_per_hour=tier.discount_per_hour, minutes=tier.minutes
            ),
        )
        for tier in form.fields["tier"].queryset
    ]
    if request.method == "POST" and form.is_valid():
        try:
            hours_request = services.hours_request_create(
                agreement=agreement,
                tier=form.cleaned_data["tier"],
                requested_by=request.user,
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("Thank you — we received your request for a %(block)s. We will send the invoice shortly.")
                % {"block": hours_request.tier.name},
            )
            return redirect("portal:agreement", public_id=agreement.public_id)
    return render(request, "portal/buy.html", {"agreement": agreement, "form": form, "offers": offers})


@client_required
def estimates(request: HttpRequest) -> HttpResponse:
    """The client's estimates: those waiting with approve and decline, then the decided ones."""
    scoped = estimates_for_user(request.user)
    return render(
        request,
        "portal/estimates.html",
        {
            "waiting": scoped.filter(status=EstimateStatus.WAITING).order_by("created_at", "id"),
            "decided": scoped.exclude(status=EstimateStatus.WAITING).order_by("-created_at", "-id")[:50],
            "approve_form": EstimateApproveForm(),
        },
    )


@client_required
@require_POST
def estimate_approve(request: HttpRequest, public_id: str) -> HttpResponse:
    """Approve, and with a block chosen also ask for it (the portal's hours request), all or nothing."""
    estimate = get_by_public_id(estimates_for_user(request.user), public_id)
    form = EstimateApproveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the block sizes on sale, or none."))
        return redirect("portal:estimates")
    tier = form.cleaned_data["tier"]
    try:
        services.estimate_approve(estimate=estimate, actor=request.user, tier=tier, send=queue_sending)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if tier is not None:
            messages.success(
                request,
                _("Estimate approved, and we received your request for a %(block)s.") % {"block": tier.name},
            )
        else:
            messages.success(request, _("Estimate approved: we will start the work."))
    return redirect("portal:estimates")


@client_required
@require_POST
def estimate_decline(request: HttpRequest, public_id: str) -> HttpResponse:
    estimate = get_by_public_id(estimates_for_user(request.user), public_id)
    try:
        estimate_notify.estimate_decline_and_notify(estimate=estimate, actor=request.user, send=queue_sending)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Estimate declined: we will not start the work."))
    return redirect("portal:estimates")


def estimate_link(request: HttpRequest, token: str) -> HttpResponse:
    """An emailed approve or decline link. The signature names the estimate and
    the action, so it needs no sign-in; it acts on POST only and only while the
    estimate waits, so a used, expired or tampered link changes nothing."""
    try:
        estimate, action = estimate_for_link(token)
        if request.method == "POST":
            estimate, action = estimate_notify.estimate_decide_by_link(token=token, send=queue_sending)
            return render(request, "portal/estimate_link.html", {"estimate": estimate, "action": action, "done": True})
    except EstimateLinkError as error:
        return render(
            request,
            "portal/estimate_link.html",
            {"message": error.message},
            status=404 if error.estimate is None else 410,
        )
    return render(request, "portal/estimate_link.html", {"estimate": estimate, "action": action})
