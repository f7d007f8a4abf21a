"""The staff dashboard: every client's balance and runway, the client page,
and the actions that change balances — each through agreements.services."""

import datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page
from django.db import transaction
from django.db.models import F, Prefetch
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import services as account_services
from accounts.reauth import recent_login_required
from accounts.selectors import lockouts_current, msp_people
from agreements import services
from agreements.domain import block_name, block_price, format_minutes
from agreements.domain import money as billing_money
from agreements.models import AgreementStatus, Block, ClientContact, CreditPolicy, Holiday, Tier, Weekday, WorkType
from agreements.runway import RunwayRanking, burn_refresh_stale, runway_of, with_runway
from agreements.selectors import (
    agreements_for_user,
    clients_for_user,
    ledger_with_running_balance,
    questions_for_user,
    time_entries_for_user,
)
from agreements.services import calendar as calendar_services
from agreements.services import work_types as work_type_services
from agreements.services.calendar import charging_rules_of
from agreements.summaries import balance_split, blocks_with_remaining, dashboard_figures, expiring_filter
from billing import credit_notes
from billing import services as billing_services
from billing.models import Invoice, InvoiceStatus
from billing.selectors import credit_notes_for_user, invoice_figures, invoices_for_user
from dashboard.forms import (
    AdjustmentForm,
    AgreementEditForm,
    AgreementFilterForm,
    AgreementForm,
    AgreementMoveForm,
    AgreementWorkTypesForm,
    BlockCancellationForm,
    BlockExpiryForm,
    BlockSellForm,
    BusinessHoursForm,
    CancellationForm,
    ClientEditForm,
    ClientForm,
    ContactInviteForm,
    GoodwillForm,
    HolidayForm,
    HoursMoveForm,
    LockoutUnlockForm,
    QuestionResolveForm,
    ReloadDraftDiscardForm,
    ReloadDraftSizeForm,
    TechnicianInviteForm,
    WorkTypeForm,
)
from notifications import questions as question_notify
from notifications import services as notification_services
from notifications.selectors import emails_undelivered, reload_drafts_for_user, sweep_status
from notifications.tasks import queue_sending
from payments import provider as payment_provider
from payments import refunds as payment_refunds
from portal import services as portal_services
from portal.models import HoursRequest
from ui.access import get_by_public_id, staff_required
from ui.forms import add_service_errors
from ui.pagination import KnownCountPaginator
from ui.panels import AgreementCard, agreement_cards
from ui.templatetags.bh import money

SORTS = {
    "client": ("client__name", "name"),
    "balance": ("balance_minutes",),
    "threshold": ("low_balance_threshold_minutes",),
    "burn": ("burn_window_minutes",),
}
PAGE_SIZE = 50


# The headline figure that counts the agreements a filter shows (status "active", no search).
FLAG_FIGURES = {None: "active", "": "active", "low": "low", "exhausted": "exhausted", "expiring": "expiring"}


def _paginate(agreements, figures: dict, *, params: dict, status: str, page: str | None) -> Page:  # noqa: ANN001
    """The page of agreements, its total taken from the headline figures when
    they count the same agreements: no `COUNT(*)` over every agreement on
    each view. Those figures may be a minute old; KnownCountPaginator keeps
    "next" and the last page right anyway. A search or another status counts."""
    known = None
    if status == "active" and not params.get("q") and params.get("flag") in FLAG_FIGURES:
        known = figures.get(FLAG_FIGURES[params.get("flag")])
    return KnownCountPaginator(agreements, PAGE_SIZE, count=known).get_page(page)


@staff_required
def home(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    everything = agreements_for_user(request.user)
    form = AgreementFilterForm(request.GET or None)
    agreements = everything
    params = form.cleaned_data if form.is_valid() else {}
    status = params.get("status") or "active"
    if status != "all":
        agreements = agreements.filter(status=status)
    if params.get("q"):
        agreements = agreements.filter(client__name__icontains=params["q"])
    flag = params.get("flag")
    if flag == "low":
        agreements = agreements.filter(balance_minutes__gt=0, balance_minutes__lte=F("low_balance_threshold_minutes"))
    elif flag == "exhausted":
        agreements = agreements.filter(balance_minutes__lte=0)
    elif flag == "expiring":
        agreements = agreements.filter(expiring_filter(today))

    totals = dashboard_figures(everything, today=today)
    sort = request.GET.get("sort", "runway")
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key == "runway":
        # The expiry-aware runway is computed in Python (agreements.runway);
        # the ranking reads only what the page needs, in a few queries, from
        # the cached burn: recount first what the night's run has not.
        burn_refresh_stale(today=today)
        ranking = RunwayRanking(agreements, today=today, descending=descending)
        page = _paginate(ranking, totals["figures"], params=params, status=status, page=request.GET.get("page"))
    else:
        key = key if key in SORTS else "client"
        fields = SORTS[key]
        agreements = with_runway(agreements, today=today).order_by(
            *[f"-{f}" if descending else f for f in fields], "pk"
        )
        sort = f"-{key}" if descending else key
        page = _paginate(agreements, totals["figures"], params=params, status=status, page=request.GET.get("page"))
    cards = [AgreementCard(agreement=a, runway=runway_of(a, today=today), chart=None) for a in page.object_list]
    return render(
        request,
        "dashboard/home.html",
        {
            "figures": totals["figures"],
            "deferred": totals["deferred"],
            "invoice_figures": invoice_figures(invoices_for_user(request.user), today=today),
            "requests": portal_services.hours_requests_open()[:10],
            "questions": services.questions_open()[:20],
            "estimates_waiting": services.estimates_waiting()[:20],
            "overruns": services.estimates_overrun(),
            "reload_drafts": reload_drafts_for_user(request.user),
            "undelivered": emails_undelivered().count(),
            "sweep": sweep_status(),
            "form": form,
            "page": page,
            "cards": cards,
            "sort": sort,
            "today": today,
        },
    )


# ---------------------------------------------------------------------------
# Clients


@staff_required
def client_new(request: HttpRequest) -> HttpResponse:
    form = ClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            client = services.client_create(**form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, _("Client “%(name)s” created. Next: set up its agreement.") % {"name": client.name}
            )
            return redirect("dashboard:agreement_new", public_id=client.public_id)
    return render(
        request, "dashboard/form.html", {"form": form, "title": _("New client"), "submit": _("Create client")}
    )


@staff_required
def client_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    client = get_by_public_id(clients_for_user(request.user), public_id)
    initial = {field: getattr(client, field) for field in ClientEditForm.base_fields}
    form = ClientEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            client = services.client_update(client=client, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Client “%(name)s” saved.") % {"name": client.name})
            return redirect("dashboard:client", public_id=client.public_id)
    return render(
        request,
        "dashboard/form.html",
        {"form": form, "client": client, "title": _("Edit client"), "submit": _("Save")},
    )


@staff_required
def client_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    client = get_by_public_id(clients_for_user(request.user), public_id)
    today = timezone.localdate()
    scoped = agreements_for_user(request.user).filter(client=client)
    # In the client's order: the order in which they take time logged for the client.
    agreements = list(with_runway(scoped, today=today).prefetch_related("work_types").order_by("position", "pk"))
    selected = None
    if agreements:
        wanted = request.GET.get("agreement")
        selected = next((a for a in agreements if str(a.public_id) == wanted), agreements[0])
    reserved = services.estimates_reserved_by_agreement([a.pk for a in agreements])
    context = {
        "client": client,
        "contacts": ClientContact.objects.filter(client=client)
        .select_related("user")
        .order_by("user__last_name", "user__username"),
        "cards": [
            AgreementCard(
                agreement=a, runway=runway_of(a, today=today), chart=None, reserved_minutes=reserved.get(a.pk, 0)
            )
            for a in agreements
        ],
        "selected": selected,
        "requests": HoursRequest.objects.filter(agreement__client=client, status="open").select_related(
            "tier", "agreement", "requested_by"
        ),
        "questions": services.questions_open().filter(time_entry__agreement__client=client),
        "estimates": services.estimates_for_client(client.pk)[:50],
        "today": today,
    }
    if selected is not None:
        context["card"] = agreement_cards([selected], today=today)[0]
        live_invoices = Prefetch(
            "invoices", queryset=Invoice.objects.exclude(status=InvoiceStatus.VOID), to_attr="live"
        )
        context["unbilled_overage"] = services.overage_unbilled_minutes(selected)
        context["term_end"] = services.term_end_preview(selected)
        context["charging"] = charging_rules_of(selected)
        context["blocks"] = list(blocks_with_remaining(scoped.filter(pk=selected.pk)).prefetch_related(live_invoices))
        context["split"] = balance_split(selected, context["blocks"])
        # Newest first; the running balance is computed over the whole ledger before the cut.
        context["ledger"] = ledger_with_running_balance(selected).order_by("-created_at", "-id")[:100]
        context["entries"] = (
            time_entries_for_user(request.user).filter(agreement=selected).select_related("voided_by")[:100]
        )
    context["undelivered"] = emails_undelivered(client=client)[:50]
    context["invoices"] = (
        invoices_for_user(request.user)
        .filter(client=client)
        .prefetch_related("balances")
        .order_by("-created_at", "-id")[:50]
    )
    context["credit_notes"] = (
        credit_notes_for_user(request.user)
        .filter(client=client)
        .select_related("stripe_refund")  # its refund through Stripe, if any
        .prefetch_related("balances")
        .order_by("-created_at", "-id")[:50]
    )
    return render(request, "dashboard/client.html", context)


def _block_for(request: HttpRequest, public_id: str) -> Block:
    """A block of an agreement the user may see, or 404."""
    return get_by_public_id(
        Block.objects.filter(agreement__in=agreements_for_user(request.user)).select_related("agreement__client"),
        public_id,
    )


def _client_page(agreement) -> str:  # noqa: ANN001
    return reverse("dashboard:client", args=[agreement.client.public_id]) + f"?agreement={agreement.public_id}"


@staff_required
def agreement_new(request: HttpRequest, public_id: str) -> HttpResponse:
    client = get_by_public_id(clients_for_user(request.user), public_id)
    form = AgreementForm(request.POST or None, initial={"starts_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            agreement = services.agreement_create(
                client=client, work_types=list(form.cleaned_data["work_types"]), **form.agreement_fields()
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("Agreement “%(agreement)s” created for %(client)s. Sell its first block below.")
                % {"agreement": agreement.name, "client": client},
            )
            return redirect("dashboard:block_sell", public_id=agreement.public_id)
    return render(
        request,
        "dashboard/form.html",
        {
            "form": form,
            "title": _("New agreement for %(client)s") % {"client": client},
            "submit": _("Create agreement"),
            "client": client,
        },
    )


@staff_required
def agreement_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    """Every setting of an agreement and the work types it covers, on one page."""
    agreement = get_by_public_id(agreements_for_user(request.user), public_id)
    # Bound on every POST: choosing no work type (all of them) posts no field at all.
    form = AgreementEditForm(request.POST if request.method == "POST" else None, instance=agreement)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():  # the settings and the cover, or neither
                services.agreement_update(agreement=agreement, actor=request.user, **form.settings())
                services.agreement_set_work_types(
                    agreement=agreement, work_types=list(form.cleaned_data["work_types"]), actor=request.user
                )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            agreement.refresh_from_db(fields=["name"])
            messages.success(request, _("Saved the settings of “%(agreement)s”.") % {"agreement": agreement.name})
            return redirect(_client_page(agreement))
    return render(
        request,
        "dashboard/form.html",
        {
            "form": form,
            "title": _("Edit agreement %(agreement)s") % {"agreement": agreement.name},
            "submit": _("Save"),
            "client": agreement.client,
            "agreement": agreement,
        },
    )


@staff_required
@require_POST
def agreement_move(request: HttpRequest, public_id: str) -> HttpResponse:
    """Move an agreement up or down its client's order (the buttons send its new place)."""
    agreement = get_by_public_id(agreements_for_user(request.user), public_id)
    form = AgreementMoveForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(_client_page(agreement))
    try:
        services.agreement_reorder(agreement=agreement, position=form.cleaned_data["position"], actor=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("“%(agreement)s” is now number %(position)s in the order of %(client)s.")
            % {"agreement": agreement.name, "position": form.cleaned_data["position"], "client": agreement.client},
        )
    return redirect(_client_page(agreement))


@staff_required
def agreement_work_types(request: HttpRequest, public_id: str) -> HttpResponse:
    agreement = get_by_public_id(agreements_for_user(request.user), public_id)
    # Bound on every POST: choosing none (all work types) posts no field at all.
    form = AgreementWorkTypesForm(
        request.POST if request.method == "POST" else None, initial={"work_types": list(agreement.work_types.all())}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.agreement_set_work_types(
                agreement=agreement, work_types=list(form.cleaned_data["work_types"]), actor=request.user
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Saved the work types “%(agreement)s” covers.") % {"agreement": agreement.name})
            return redirect(_client_page(agreement))
    return render(
        request,
        "dashboard/form.html",
        {
            "form": form,
            "title": _("Work types of %(agreement)s") % {"agreement": agreement.name},
            "submit": _("Save"),
            "client": agreement.client,
            "agreement": agreement,
        },
    )


# ---------------------------------------------------------------------------
# Balance-changing actions: a form, a confirmation page, then the service.


def _confirm(request: HttpRequest, form, *, title: str, lines: list[str], submit: str, client, danger=False):  # noqa: ANN001, ANN202
    return render(
        request,
        "dashboard/confirm.html",
        {"form": form, "title": title, "lines": lines, "submit": submit, "client": client, "danger": danger},
    )


@staff_required
@recent_login_required
def block_sell(request: HttpRequest, public_id: str) -> HttpResponse:
    agreement = get_by_public_id(agreements_for_user(request.user), public_id)
    initial = {}
    if request.GET.get("tier"):
        initial["tier"] = Tier.objects.filter(pk=request.GET["tier"], is_active=True).first()
    form = BlockSellForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid() and "edit" not in request.POST:
        data = form.cleaned_data
        tier, hours = data.get("tier"), data.get("hours")
        minutes = tier.minutes if tier else hours * 60
        rate, amount = block_price(
            hourly_rate=agreement.client.hourly_rate,
            discount_per_hour=tier.discount_per_hour if tier else 0,
            minutes=minutes,
        )
        if "confirm" not in request.POST:
            balance = {"balance": format_minutes(agreement.balance_minutes)}
            if agreement.credit_policy == CreditPolicy.IMMEDIATE:
                usable = _("Hours usable at once; current balance %(balance)s.") % balance
            else:
                usable = _("Hours usable once the block is marked paid; current balance %(balance)s.") % balance
            return _confirm(
                request,
                form,
                client=agreement.client,
                title=_("Sell this block?"),
                submit=_("Sell block"),
                lines=[
                    _("Client: %(client)s — %(agreement)s") % {"client": agreement.client, "agreement": agreement.name},
                    # Translators: e.g. "Block: 20 hours, 20 h at $90.00/h"
                    _("Block: %(block)s, %(duration)s at %(rate)s/h")
                    % {
                        "block": tier.name if tier else _("Custom"),
                        "duration": format_minutes(minutes),
                        "rate": money(rate, agreement.currency),
                    },
                    _("Amount: %(amount)s") % {"amount": money(amount, agreement.currency)},
                    usable,
                ],
            )
        try:
            sale = billing_services.block_sale_invoices(
                agreement=agreement,
                actor=request.user,
                tier=tier,
                hours=hours,
                starts_on=data["starts_on"],
                expires_on=data.get("expires_on"),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            agreement.refresh_from_db()
            invoice = sale.invoice
            block = invoice.block
            sold = {
                "duration": format_minutes(block.minutes),
                "client": agreement.client,
                "number": invoice.number,
                "balance": format_minutes(agreement.balance_minutes),
            }
            if block.credited_at:
                text = _(
                    "Sold %(duration)s to %(client)s (credited now); invoice %(number)s issued. Balance: %(balance)s."
                )
            else:
                text = _(
                    "Sold %(duration)s to %(client)s (credited when paid); invoice %(number)s issued. "
                    "Balance: %(balance)s."
                )
            messages.success(request, text % sold)
            if sale.overage_invoice is not None:
                messages.info(request, _overage_billed_message(sale.overage_invoice))
            return redirect(_client_page(agreement))
    return render(
        request,
        "dashboard/form.html",
        {
            "form": form,
            "title": _("Sell a block to %(client)s") % {"client": agreement.client},
            "submit": _("Review sale"),
            "client": agreement.client,
            "agreement": agreement,
        },
    )


def _overage_billed_message(invoice: Invoice) -> str:
    return _(
        "Overage of %(duration)s billed on invoice %(number)s (%(amount)s); email it to the client from its page."
    ) % {
        "duration": format_minutes(invoice.overage_minutes),
        "number": invoice.number,
        "amount": money(invoice.total, invoice.currency),
    }


@staff_required
@recent_login_required
def overage_bill(request: HttpRequest, public_id: str) -> HttpResponse:
    agreement = get_by_public_id(agreements_for_user(request.user), public_id)
    minutes = services.overage_unbilled_minutes(agreement)
    if not minutes:
        messages.info(request, _("There is no unbilled overage on this agreement."))
        return redirect(_client_page(agreement))
    if request.method == "POST" and request.POST.get("confirm"):
        try:
            invoice = billing_services.invoice_bill_overage(agreement=agreement, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(_client_page(agreement))
        if invoice is None:  # billed a moment ago by another request or the monthly close
            messages.info(request, _("There is no unbilled overage on this agreement."))
            return redirect(_client_page(agreement))
        messages.success(request, _overage_billed_message(invoice))
        return redirect("billing:invoice", public_id=invoice.public_id)
    rate = billing_services.overage_rate_of(agreement)
    return _confirm(
        request,
        forms.Form(),
        title=_("Bill the overage of %(client)s?") % {"client": agreement.client},
        lines=[
            _("Client: %(client)s — %(agreement)s") % {"client": agreement.client, "agreement": agreement.name},
            _("Time beyond prepaid hours, not billed yet: %(duration)s") % {"duration": format_minutes(minutes)},
            _("Amount: %(amount)s (%(rate)s/h)")
            % {
                "amount": money(billing_money(rate * minutes / 60), agreement.currency),
                "rate": money(rate, agreement.currency),
            },
        ],
        submit=_("Issue overage invoice"),
        client=agreement.client,
    )


@staff_required
@recent_login_required
def adjust(request: HttpRequest, public_id: str) -> HttpResponse:
    agreement = get_by_public_id(agreements_for_user(request.user), public_id)
    form = AdjustmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and "edit" not in request.POST:
        minutes = form.signed_minutes()
        if "confirm" not in request.POST:
            change = {"duration": format_minutes(abs(minutes)), "client": agreement.client, "agreement": agreement.name}
            if minutes > 0:
                what = _("Add %(duration)s to %(client)s — %(agreement)s") % change
            else:
                what = _("Deduct %(duration)s from %(client)s — %(agreement)s") % change
            return _confirm(
                request,
                form,
                client=agreement.client,
                title=_("Record this adjustment?"),
                submit=_("Record adjustment"),
                lines=[
                    what,
                    _("Balance: %(before)s → %(after)s")
                    % {
                        "before": format_minutes(agreement.balance_minutes),
                        "after": format_minutes(agreement.balance_minutes + minutes),
                    },
                    _("Reason: %(reason)s") % {"reason": form.cleaned_data["reason"]},
                ],
            )
        try:
            services.ledger_adjust(
                agreement=agreement, minutes=minutes, reason=form.cleaned_data["reason"], author=request.user
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            agreement.refresh_from_db()
            messages.success(
                request,
                _("Adjustment recorded (%(change)s). %(client)s balance: %(balance)s.")
                % {
                    "change": ("+" if minutes > 0 else "−") + format_minutes(abs(minutes)),
                    "client": agreement.client,
                    "balance": format_minutes(agreement.balance_minutes),
                },
            )
            return redirect(_client_page(agreement))
    return render(
        request,
        "dashboard/form.html",
        {
            "form": form,
            "title": _("Adjust the balance of %(client)s") % {"client": agreement.client},
            "submit": _("Review adjustment"),
            "client": agreement.client,
            "agreement": agreement,
        },
    )


@staff_required
@recent_login_required
def block_goodwill(request: HttpRequest, public_id: str) -> HttpResponse:
    agreement = get_by_public_id(agreements_for_user(request.user), public_id)
    form = GoodwillForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and "edit" not in request.POST:
        data = form.cleaned_data
        if "confirm" not in request.POST:
            expires_on = data.get("expires_on") or agreement.ends_on
            return _confirm(
                request,
                form,
                client=agreement.client,
                title=_("Grant these goodwill hours?"),
                submit=_("Grant goodwill hours"),
                lines=[
                    _("Client: %(client)s — %(agreement)s") % {"client": agreement.client, "agreement": agreement.name},
                    _("Goodwill hours: %(duration)s, free of charge (no invoice), usable at once")
                    % {"duration": format_minutes(data["duration"])},
                    _("Expires on %(date)s") % {"date": date_format(expires_on, "DATE_FORMAT")}
                    if expires_on
                    else _("Never expires"),
                    _("Balance: %(before)s → %(after)s")
                    % {
                        "before": format_minutes(agreement.balance_minutes),
                        "after": format_minutes(agreement.balance_minutes + data["duration"]),
                    },
                    _("Reason: %(reason)s") % {"reason": data["reason"]},
                ],
            )
        try:
            services.block_grant_goodwill(
                agreement=agreement,
                minutes=data["duration"],
                reason=data["reason"],
                expires_on=data.get("expires_on"),
                actor=request.user,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            agreement.refresh_from_db()
            messages.success(
                request,
                _("Granted %(duration)s of goodwill hours to %(client)s. Balance: %(balance)s.")
                % {
                    "duration": format_minutes(data["duration"]),
                    "client": agreement.client,
                    "balance": format_minutes(agreement.balance_minutes),
                },
            )
            return redirect(_client_page(agreement))
    return render(
        request,
        "dashboard/form.html",
        {
            "form": form,
            "title": _("Grant goodwill hours to %(client)s") % {"client": agreement.client},
            "submit": _("Review"),
            "client": agreement.client,
            "agreement": agreement,
        },
    )


@staff_required
@recent_login_required
def block_move(request: HttpRequest, public_id: str) -> HttpResponse:
    block = _block_for(request, public_id)
    agreement = block.agreement
    form = HoursMoveForm(request.POST or None, block=block)
    if not form.fields["to_agreement"].queryset.exists():
        messages.info(
            request, _("%(client)s has no other active agreement to move hours to.") % {"client": agreement.client}
        )
        return redirect(_client_page(agreement))
    if request.method == "POST" and form.is_valid() and "edit" not in request.POST:
        data = form.cleaned_data
        target, minutes = data["to_agreement"], data["duration"]
        if "confirm" not in request.POST:
            if minutes > block.minutes_left:
                form.add_error(
                    "duration",
                    _("Only %(left)s of this block are unused.") % {"left": format_minutes(block.minutes_left)},
                )
            else:
                _rate, amount = block_price(hourly_rate=block.rate, discount_per_hour=0, minutes=minutes)
                return _confirm(
                    request,
                    form,
                    client=agreement.client,
                    title=_("Move these hours?"),
                    submit=_("Move hours"),
                    lines=[
                        _("Client: %(client)s") % {"client": agreement.client},
                        _("%(duration)s unused of the %(block)s of %(date)s, at %(rate)s/h (%(amount)s)")
                        % {
                            "duration": format_minutes(minutes),
                            "block": block_name(block.minutes),
                            "date": date_format(block.starts_on, "DATE_FORMAT"),
                            "rate": money(block.rate, block.currency),
                            "amount": money(amount, block.currency),
                        },
                        _("From %(agreement)s: %(before)s → %(after)s")
                        % {
                            "agreement": agreement.name,
                            "before": format_minutes(agreement.balance_minutes),
                            "after": format_minutes(agreement.balance_minutes - minutes),
                        },
                        _("To %(agreement)s: %(before)s → %(after)s")
                        % {
                            "agreement": target.name,
                            "before": format_minutes(target.balance_minutes),
                            "after": format_minutes(target.balance_minutes + minutes),
                        },
                        _("Reason: %(reason)s") % {"reason": data["reason"]},
                    ],
                )
        else:
            try:
                services.block_hours_move(
                    block=block, to_agreement=target, minutes=minutes, reason=data["reason"], actor=request.user
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                agreement.refresh_from_db()
                target.refresh_from_db()
                messages.success(
                    request,
                    _(
                        "Moved %(duration)s from %(source)s (balance %(source_balance)s) to %(target)s "
                        "(balance %(target_balance)s)."
                    )
                    % {
                        "duration": format_minutes(minutes),
                        "source": agreement.name,
                        "source_balance": format_minutes(agreement.balance_minutes),
                        "target": target.name,
                        "target_balance": format_minutes(target.balance_minutes),
                    },
                )
                return redirect(_client_page(target))
    return render(
        request,
        "dashboard/form.html",
        {
            "form": form,
            "title": _("Move unused hours of a %(block)s of %(client)s")
            % {"block": block_name(block.minutes), "client": agreement.client},
            "submit": _("Review"),
            "client": agreement.client,
            "agreement": agreement,
        },
    )


# ---------------------------------------------------------------------------
# Invitations and requests


@staff_required
def contact_invite(request: HttpRequest, public_id: str) -> HttpResponse:
    client = get_by_public_id(clients_for_user(request.user), public_id)
    form = ContactInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.client_contact_invite(client=client, invited_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("Invitation sent to %(email)s. They choose their own password.") % {"email": contact.user.email},
            )
            return redirect("dashboard:client", public_id=client.public_id)
    return render(
        request,
        "dashboard/form.html",
        {
            "form": form,
            "title": _("Invite a contact of %(client)s") % {"client": client},
            "submit": _("Send invitation"),
            "client": client,
        },
    )


@staff_required
def contact_reinvite(request: HttpRequest, public_id: str, contact_id: int) -> HttpResponse:
    client = get_by_public_id(clients_for_user(request.user), public_id)
    contact = ClientContact.objects.filter(client=client, pk=contact_id).select_related("user").first()
    if contact is None:  # unknown, or another client's contact: like any unknown object
        raise Http404("No such contact.")
    if request.method != "POST":
        return redirect("dashboard:client", public_id=client.public_id)
    try:
        account_services.invitation_send(user=contact.user, invited_by=request.user, language=contact.client.language)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("A new invitation was sent to %(email)s; earlier links no longer work.") % {"email": contact.user.email},
        )
    return redirect("dashboard:client", public_id=client.public_id)


@staff_required
def technician_invite(request: HttpRequest) -> HttpResponse:
    form = TechnicianInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = account_services.technician_create(**form.cleaned_data)
                account_services.invitation_send(user=user, invited_by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, _("Invitation sent to %(email)s. They choose their own password.") % {"email": user.email}
            )
            return redirect("dashboard:team")
    return render(
        request,
        "dashboard/form.html",
        {"form": form, "title": _("Invite a technician"), "submit": _("Send invitation")},
    )


@staff_required
def team(request: HttpRequest) -> HttpResponse:
    """MSP staff and technicians, each with a button to send a new invitation."""
    return render(request, "dashboard/team.html", {"members": msp_people()})


@staff_required
@require_POST
def member_reinvite(request: HttpRequest, username: str) -> HttpResponse:
    """A new invitation for a staff member or technician (client contacts are
    re-invited from their client's page, in the client's language)."""
    member = msp_people().filter(username=username).first()
    if member is None:  # unknown, or a client contact: like any unknown object
        raise Http404("No such person.")
    try:
        account_services.invitation_send(user=member, invited_by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("A new invitation was sent to %(email)s; earlier links no longer work.") % {"email": member.email},
        )
    return redirect("dashboard:team")


@staff_required
@recent_login_required
def question_resolve(request: HttpRequest, public_id: str) -> HttpResponse:
    question = get_by_public_id(questions_for_user(request.user), public_id)
    entry = question.time_entry
    form = QuestionResolveForm(request.POST or None, initial={"credit_minutes": entry.charged_minutes})
    if request.method == "POST" and question.is_open and form.is_valid():
        data = form.cleaned_data
        common = {"question": question, "actor": request.user, "reply": data["reply"], "send": queue_sending}
        try:
            if data["outcome"] == "explained":
                question_notify.question_explain_and_notify(**common)
            elif data["outcome"] == "credited":
                question_notify.question_credit_and_notify(minutes=data["credit_minutes"], **common)
            else:
                question_notify.question_correct_and_notify(
                    minutes=data["minutes"], notes=data["notes"] or None, **common
                )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            question.refresh_from_db()
            messages.success(
                request,
                _("Question answered (%(outcome)s); the client is told by email.")
                % {"outcome": question.get_status_display().lower()},
            )
            return redirect(_client_page(entry.agreement))
    return render(
        request,
        "dashboard/question.html",
        {
            "question": question,
            "entry": entry,
            "client": entry.agreement.client,
            "form": form,
            "creditable": services.question_creditable_minutes(question),
        },
    )


@staff_required
def request_handled(request: HttpRequest, public_id: str) -> HttpResponse:
    hours_request = get_by_public_id(HoursRequest.objects.select_related("agreement__client"), public_id)
    if request.method == "POST":
        portal_services.hours_request_mark_handled(hours_request=hours_request, actor=request.user)
        messages.success(
            request, _("Request from %(client)s marked as handled.") % {"client": hours_request.agreement.client}
        )
    return redirect("dashboard:home")


# ---------------------------------------------------------------------------
# The MSP's business hours and holidays: what time entries with a start time are split by


def _business_hours_page(request: HttpRequest, *, form=None, holiday_form=None, status: int = 200) -> HttpResponse:  # noqa: ANN001
    if form is None:
        hours = calendar_services.opening_hours()
        initial = {}
        for day, times in hours.items():
            initial[f"opens_{day}"], initial[f"closes_{day}"] = times or (None, None)
        form = BusinessHoursForm(initial=initial)
    return render(
        request,
        "dashboard/business_hours.html",
        {
            "form": form,
            "holiday_form": holiday_form or HolidayForm(),
            "holidays": Holiday.objects.filter(date__gte=timezone.localdate() - datetime.timedelta(days=365)),
            "after_hours": calendar_services.after_hours_work_type(),
            "time_zone": settings.TIME_ZONE,
        },
        status=status,
    )


@staff_required
def business_hours(request: HttpRequest) -> HttpResponse:
    form = BusinessHoursForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            # All weekdays or none: a refusal on Friday leaves Monday as it was.
            with transaction.atomic():
                for day in Weekday.values:
                    try:
                        calendar_services.business_hours_set(
                            weekday=day,
                            opens=form.cleaned_data[f"opens_{day}"],
                            closes=form.cleaned_data[f"closes_{day}"],
                            actor=request.user,
                        )
                    except ValidationError as error:
                        for key, errors in error.message_dict.items():
                            form.add_error(f"{key}_{day}" if f"{key}_{day}" in form.fields else None, errors)
                        raise
        except ValidationError:
            pass
        else:
            messages.success(request, _("Business hours saved."))
            return redirect("dashboard:business_hours")
    return _business_hours_page(request, form=form if request.method == "POST" else None)


@staff_required
@require_POST
def holiday_add(request: HttpRequest) -> HttpResponse:
    form = HolidayForm(request.POST)
    if form.is_valid():
        try:
            holiday = calendar_services.holiday_add(
                date=form.cleaned_data["date"], name=form.cleaned_data["name"], actor=request.user
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("Holiday added: %(date)s %(name)s.") % {"date": f"{holiday.date:%Y-%m-%d}", "name": holiday.name},
            )
            return redirect("dashboard:business_hours")
    return _business_hours_page(request, holiday_form=form)


@staff_required
@require_POST
def holiday_remove(request: HttpRequest, public_id: str) -> HttpResponse:
    holiday = get_by_public_id(Holiday.objects.all(), public_id)
    calendar_services.holiday_remove(holiday=holiday, actor=request.user)
    messages.success(
        request, _("Holiday removed: %(date)s %(name)s.") % {"date": f"{holiday.date:%Y-%m-%d}", "name": holiday.name}
    )
    return redirect("dashboard:business_hours")


@staff_required
def lockouts(request: HttpRequest) -> HttpResponse:
    """Accounts and addresses locked out after failed sign-ins, each with an Unlock button."""
    return render(
        request,
        "dashboard/lockouts.html",
        {"lockouts": lockouts_current(), "limit": settings.AXES_FAILURE_LIMIT},
    )


@staff_required
@require_POST
def lockout_unlock(request: HttpRequest) -> HttpResponse:
    form = LockoutUnlockForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("dashboard:lockouts")
    kind, value = form.cleaned_data["kind"], form.cleaned_data["value"]
    try:
        account_services.lockout_clear(kind=kind, value=value, actor=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        if kind == "account":
            messages.success(request, _("Unlocked account %(value)s: it can sign in again.") % {"value": value})
        else:
            messages.success(
                request, _("Unlocked address %(value)s: sign-ins from it are accepted again.") % {"value": value}
            )
    return redirect("dashboard:lockouts")


# ---------------------------------------------------------------------------
# Cancelling: an agreement, or a block's unused hours, refunded or forfeited


def _disposition_line(block: Block, minutes: int, disposition: str) -> str:
    values = {
        "duration": format_minutes(minutes),
        "block": block_name(block.minutes),
        "date": date_format(block.starts_on, "DATE_FORMAT"),
    }
    if disposition == "refund" and not block.is_goodwill:  # goodwill hours are forfeited: they were free
        return _("%(duration)s unused of the %(block)s of %(date)s: refunded, %(amount)s before tax") % {
            **values,
            "amount": money(credit_notes.refund_subtotal(block, minutes), block.currency),
        }
    return _("%(duration)s unused of the %(block)s of %(date)s: forfeited (breakage)") % values


def _money_back_lines(block: Block, minutes: int, disposition: str) -> list[str]:
    """With online payments on: how the refund's money goes back, said before staff confirm."""
    if disposition != "refund" or block.is_goodwill or not payment_provider.enabled():
        return []
    invoice, total = credit_notes.refund_total(block, minutes)
    if invoice is None:
        return []
    preview = payment_refunds.refund_preview(invoice_id=invoice.pk, total=total)
    if preview is None:
        return [
            _("Invoice %(number)s was not paid through Stripe: return %(amount)s to the client by hand.")
            % {"number": invoice.number, "amount": money(total, invoice.currency)}
        ]
    through, covered = preview
    lines = []
    if through:
        lines.append(
            _("%(amount)s will be refunded to the client's card or bank account through Stripe.")
            % {"amount": money(through, invoice.currency)}
        )
    if covered:
        lines.append(
            _("%(amount)s was refunded in Stripe's dashboard already and is not sent again.")
            % {"amount": money(covered, invoice.currency)}
        )
    if through + covered < total:
        lines.append(
            _("The rest, %(amount)s, was paid by hand: return it to the client by hand.")
            % {"amount": money(total - through - covered, invoice.currency)}
        )
    return [" ".join(lines)]


def _cancelled_message(result: credit_notes.Cancellation) -> str:
    parts = []
    if result.credit_notes:
        parts.append(
            _("Credit note(s) %(numbers)s issued and emailed (%(duration)s refunded).")
            % {
                "numbers": ", ".join(note.number for note in result.credit_notes),
                "duration": format_minutes(result.refunded_minutes),
            }
        )
    if result.forfeited_minutes:
        parts.append(_("%(duration)s forfeited.") % {"duration": format_minutes(result.forfeited_minutes)})
    return " ".join(parts)


@staff_required
@recent_login_required
def agreement_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    agreement = get_by_public_id(agreements_for_user(request.user), public_id)
    if agreement.status == AgreementStatus.ENDED:
        messages.info(request, _("This agreement is cancelled already; nothing changed."))
        return redirect(_client_page(agreement))
    form = CancellationForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and "edit" not in request.POST:
        disposition = form.cleaned_data["disposition"]
        if "confirm" not in request.POST:
            blocks = Block.objects.filter(agreement=agreement, minutes_left__gt=0).order_by("starts_on", "created_at")
            return _confirm(
                request,
                form,
                client=agreement.client,
                danger=True,
                title=_("Cancel this agreement?"),
                submit=_("Cancel agreement"),
                lines=[
                    _("Client: %(client)s — %(agreement)s") % {"client": agreement.client, "agreement": agreement.name},
                    *[
                        line
                        for block in blocks
                        for line in [
                            _disposition_line(block, block.minutes_left, disposition),
                            *_money_back_lines(block, block.minutes_left, disposition),
                        ]
                    ],
                    _("The agreement ends: no more time, block sales or reloads on it."),
                    _("Reason: %(reason)s") % {"reason": form.cleaned_data["reason"]},
                ],
            )
        try:
            result = notification_services.agreement_cancel_and_notify(
                agreement=agreement,
                disposition=disposition,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                send=queue_sending,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if result.changed:
                messages.success(
                    request,
                    " ".join(
                        [_("Agreement “%(agreement)s” cancelled.") % {"agreement": agreement.name}]
                        + [_cancelled_message(result)]
                    ).strip(),
                )
            else:
                messages.info(request, _("This agreement is cancelled already; nothing changed."))
            return redirect(_client_page(agreement))
    return render(
        request,
        "dashboard/form.html",
        {
            "form": form,
            "title": _("Cancel “%(agreement)s” of %(client)s")
            % {"agreement": agreement.name, "client": agreement.client},
            "submit": _("Review cancellation"),
            "client": agreement.client,
            "agreement": agreement,
        },
    )


@staff_required
@recent_login_required
def block_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    block = _block_for(request, public_id)
    agreement = block.agreement
    form = BlockCancellationForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and "edit" not in request.POST:
        disposition = form.cleaned_data["disposition"]
        minutes = form.cleaned_data.get("duration")
        if "confirm" not in request.POST:
            if not block.minutes_left:
                form.add_error(None, _("The block has no unused hours left."))
            elif minutes is not None and not 0 < minutes <= block.minutes_left:
                form.add_error(
                    "duration",
                    _("Only %(left)s of this block are unused.") % {"left": format_minutes(block.minutes_left)},
                )
            else:
                return _confirm(
                    request,
                    form,
                    client=agreement.client,
                    danger=True,
                    title=_("Refund or forfeit these hours?"),
                    submit=_("Refund hours") if disposition == "refund" else _("Forfeit hours"),
                    lines=[
                        _("Client: %(client)s — %(agreement)s")
                        % {"client": agreement.client, "agreement": agreement.name},
                        _disposition_line(block, minutes or block.minutes_left, disposition),
                        *_money_back_lines(block, minutes or block.minutes_left, disposition),
                        _("Balance: %(before)s → %(after)s")
                        % {
                            "before": format_minutes(agreement.balance_minutes),
                            "after": format_minutes(agreement.balance_minutes - (minutes or block.minutes_left)),
                        },
                        _("Reason: %(reason)s") % {"reason": form.cleaned_data["reason"]},
                    ],
                )
        else:
            try:
                result = notification_services.block_unused_cancel_and_notify(
                    block=block,
                    disposition=disposition,
                    minutes=minutes,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                    send=queue_sending,
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                agreement.refresh_from_db()
                messages.success(
                    request,
                    _cancelled_message(result)
                    + " "
                    + _("%(client)s balance: %(balance)s.")
                    % {"client": agreement.client, "balance": format_minutes(agreement.balance_minutes)},
                )
                return redirect(_client_page(agreement))
    return render(
        request,
        "dashboard/form.html",
        {
            "form": form,
            "title": _("Refund or forfeit the unused hours of a %(block)s of %(client)s")
            % {"block": block_name(block.minutes), "client": agreement.client},
            "submit": _("Review"),
            "client": agreement.client,
            "agreement": agreement,
        },
    )


@staff_required
@recent_login_required
def block_expiry(request: HttpRequest, public_id: str) -> HttpResponse:
    """Extend or shorten a block's expiry, or remove it (agreements.services.block_expiry_change)."""
    block = _block_for(request, public_id)
    agreement = block.agreement
    form = BlockExpiryForm(request.POST or None, initial={"expires_on": block.expires_on})
    form.fields["expires_on"].help_text = _("Now: %(date)s. The last day its hours can be used: today or later.") % {
        "date": date_format(block.expires_on, "DATE_FORMAT") if block.expires_on else _("no expiry")
    }
    if request.method == "POST" and form.is_valid():
        try:
            services.block_expiry_change(
                block=block, expires_on=form.new_expiry(), actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            new = form.new_expiry()
            messages.success(
                request,
                _("The %(block)s of %(date)s now expires on %(expiry)s.")
                % {
                    "block": block_name(block.minutes),
                    "date": date_format(block.starts_on, "DATE_FORMAT"),
                    "expiry": date_format(new, "DATE_FORMAT"),
                }
                if new
                else _("The %(block)s of %(date)s no longer expires.")
                % {"block": block_name(block.minutes), "date": date_format(block.starts_on, "DATE_FORMAT")},
            )
            return redirect(_client_page(agreement))
    return render(
        request,
        "dashboard/form.html",
        {
            "form": form,
            "title": _("Change the expiry of the %(block)s of %(date)s")
            % {"block": block_name(block.minutes), "date": date_format(block.starts_on, "DATE_FORMAT")},
            "submit": _("Change expiry"),
            "client": agreement.client,
            "agreement": agreement,
        },
    )


# ---------------------------------------------------------------------------
# Reload drafts (draft top-up mode): review, change the block, issue or discard


@staff_required
@recent_login_required
def reload_draft(request: HttpRequest, public_id: str) -> HttpResponse:
    invoice = get_by_public_id(reload_drafts_for_user(request.user), public_id)
    agreement = invoice.agreement
    action = request.POST.get("action") if request.method == "POST" else None
    size_form = ReloadDraftSizeForm(
        request.POST if action == "change" else None,
        initial={"tier": invoice.block.tier, "hours": None if invoice.block.tier else invoice.block.minutes // 60},
    )
    discard_form = ReloadDraftDiscardForm(request.POST if action == "discard" else None)
    try:
        if action == "change" and size_form.is_valid():
            notification_services.reload_draft_change_block(
                invoice=invoice,
                actor=request.user,
                tier=size_form.cleaned_data.get("tier"),
                hours=size_form.cleaned_data.get("hours"),
            )
            messages.success(request, _("The drafted reload now bills a %(block)s.") % {"block": _block_of(invoice)})
            return redirect("dashboard:reload_draft", public_id=invoice.public_id)
        if action == "issue":
            issued = notification_services.reload_draft_issue(invoice=invoice, actor=request.user, send=queue_sending)
            messages.success(
                request,
                _("Reload invoice %(number)s issued and emailed to %(client)s.")
                % {"number": issued.number, "client": agreement.client},
            )
            return redirect("billing:invoice", public_id=issued.public_id)
        if action == "discard" and discard_form.is_valid():
            notification_services.reload_draft_discard(
                invoice=invoice, actor=request.user, reason=discard_form.cleaned_data["reason"]
            )
            messages.success(
                request,
                _("Reload draft of %(client)s discarded: nothing was sold or sent.") % {"client": agreement.client},
            )
            return redirect(_client_page(agreement))
    except ValidationError as error:
        add_service_errors(size_form if action == "change" else discard_form, error)
    invoice.refresh_from_db()
    return render(
        request,
        "dashboard/reload_draft.html",
        {
            "invoice": invoice,
            "lines": invoice.lines.order_by("position"),
            "agreement": agreement,
            "client": agreement.client,
            "size_form": size_form,
            "discard_form": discard_form,
        },
    )


def _block_of(invoice: Invoice) -> str:
    invoice.block.refresh_from_db()
    return block_name(invoice.block.minutes).lower()


@staff_required
def work_types(request: HttpRequest) -> HttpResponse:
    rows = WorkType.objects.order_by("-is_active", "multiplier", "name")
    return render(request, "dashboard/work_types.html", {"work_types": rows})


@staff_required
def work_type_new(request: HttpRequest) -> HttpResponse:
    return _work_type_form(request, None, request.POST or None)


@staff_required
def work_type_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _work_type_form(request, get_object_or_404(WorkType, pk=pk), request.POST or None)


def _work_type_form(request: HttpRequest, work_type: WorkType | None, data: QueryDict | None) -> HttpResponse:
    initial = (
        {"name": work_type.name, "multiplier": work_type.multiplier, "is_active": work_type.is_active,
         "is_after_hours": work_type.is_after_hours}
        if work_type else {"is_active": True}
    )  # fmt: skip
    form = WorkTypeForm(data, initial=initial)
    if form.is_bound and form.is_valid():
        try:
            saved = work_type_services.work_type_save(work_type=work_type, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Work type %(name)s saved.") % {"name": saved.name})
            return redirect("dashboard:work_types")
    return render(
        request,
        "dashboard/form.html",
        {
            "form": form,
            "title": _("Edit work type") if work_type else _("New work type"),
            "submit": _("Save"),
            "cancel_url": reverse("dashboard:work_types"),
            "intro": _(
                "A new multiplier applies to time logged from now on; entries already logged keep their charge."
            ),
        },
    )
