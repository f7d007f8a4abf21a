"""Staff reports: each page is a filter form, a chart, a table and the same
figures as CSV (`?format=csv`). Every figure comes from reports.selectors."""

import datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from agreements.domain import format_minutes, format_money
from agreements.models import Client
from agreements.selectors import clients_for_user
from agreements.services.estimates import estimates_reserved_by_agreement
from reports import accounting, selectors, services
from reports.charts import columns
from reports.forms import (
    AccountingExportForm,
    MsaForm,
    PeriodForm,
    QuestionReportForm,
    RevenueForm,
    RunwayForm,
    SeatsForm,
    UsageForm,
)
from reports.statements import parse_month, statement_build, statement_filename, statement_pdf
from ui.access import get_by_public_id, staff_required
from ui.csv import csv_response

DEFAULT_MONTHS = 12
# A page shows this many table rows at most; the CSV has them all.
ROW_LIMIT = 500


def _period(form: PeriodForm, today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The months chosen (default: the last 12, this one included) as first day → last day."""
    data = form.cleaned_data if form.is_valid() else {}
    last_month = data.get("last") or today.replace(day=1)
    first = data.get("first") or selectors.add_months(last_month, 1 - DEFAULT_MONTHS)
    last = min(selectors.add_months(last_month, 1) - datetime.timedelta(days=1), today)
    return first, max(last, first)


def _clients(form: forms.Form) -> QuerySet[Client] | None:
    """The clients whose name contains the search, or None for all."""
    search = form.cleaned_data.get("client") if form.is_valid() else ""
    return Client.objects.filter(name__icontains=search.strip()) if search and search.strip() else None


def _wants_csv(request: HttpRequest) -> bool:
    return request.GET.get("format") == "csv"


def _filename(name: str, today: datetime.date) -> str:
    return f"{name}-{today:%Y-%m-%d}.csv"


def _month_label(month: datetime.date) -> str:
    """`Feb 26` under a chart column, with the month named in the reader's language."""
    return date_format(month, "M y")


@staff_required
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "reports/index.html", {})


@staff_required
def revenue(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    form = RevenueForm(request.GET or None)
    first, last = _period(form, today)
    as_of = (form.cleaned_data.get("as_of") if form.is_valid() else None) or today
    clients = _clients(form)
    deferred = selectors.deferred_revenue(as_of=as_of, clients=clients)
    months = selectors.recognised_revenue(first=first, last=last, clients=clients)
    if _wants_csv(request):
        if request.GET.get("table") == "months":
            header = [gettext("Month"), gettext("Currency"), gettext("Opening deferred"), gettext("Purchased"),
                      gettext("Recognised"), gettext("Breakage"), gettext("Cancelled"), gettext("Refunded"),
                      gettext("Closing deferred"), gettext("Minutes recognised"),
                      gettext("Minutes expired or forfeited"), gettext("Minutes refunded")]  # fmt: skip
            rows = (
                (
                    f"{m.month:%Y-%m}",
                    m.currency,
                    m.opening,
                    m.purchased,
                    m.recognised,
                    m.breakage,
                    m.cancelled,
                    m.refunded,
                    m.closing,
                    m.recognised_minutes,
                    m.breakage_minutes,
                    m.refunded_minutes,
                )  # fmt: skip
                for m in months
            )
            return csv_response(_filename("recognised-revenue", today), header, rows)
        header = [gettext("Client"), gettext("Currency"), gettext("Unused minutes"), gettext("Deferred revenue")]
        rows = [(r.client_name, r.currency, r.minutes, r.amount) for r in deferred.rows]
        return csv_response(_filename(f"deferred-revenue-{as_of:%Y-%m-%d}", today), header, rows)
    main_currency = next(iter(deferred.totals), None) or (months[0].currency if months else "")
    shown = [m for m in months if m.currency == main_currency]
    chart = columns(
        [_month_label(m.month) for m in shown],
        {gettext("Recognised"): [m.recognised for m in shown], gettext("Breakage"): [m.breakage for m in shown]},
        fmt=lambda v: format_money(v, main_currency),
        summary=gettext("Recognised revenue and breakage per month (%(currency)s)") % {"currency": main_currency},
    )
    return render(
        request,
        "reports/revenue.html",
        {
            "form": form,
            "deferred": deferred,
            "deferred_rows": deferred.rows[:ROW_LIMIT],
            "hidden_rows": max(len(deferred.rows) - ROW_LIMIT, 0),
            "months": months,
            "chart": chart,
            "as_of": as_of,
        },
    )


@staff_required
def usage(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    form = UsageForm(request.GET or None)
    first, last = _period(form, today)
    by = (form.cleaned_data.get("by") if form.is_valid() else None) or "client"
    rows = selectors.usage(first=first, last=last, by=by, clients=_clients(form))
    label = str(selectors.USAGE_DIMENSIONS[by][0])
    if _wants_csv(request):
        header = [gettext("Month"), label, gettext("Entries"), gettext("Worked billable (min)"),
                  gettext("Charged (min)"), gettext("Non-billable (min)")]  # fmt: skip
        data = (
            (f"{r.month:%Y-%m}", r.label, r.entries, r.worked_minutes, r.charged_minutes, r.non_billable_minutes)
            for r in rows
        )
        return csv_response(_filename(f"usage-by-{by}", today), header, data)
    per_month: dict[datetime.date, list[int]] = {m: [0, 0] for m in selectors.months_between(first, last)}
    for r in rows:
        per_month[r.month][0] += r.charged_minutes
        per_month[r.month][1] += r.non_billable_minutes
    chart = columns(
        [_month_label(m) for m in per_month],
        {
            gettext("Charged"): [v[0] for v in per_month.values()],
            gettext("Non-billable"): [v[1] for v in per_month.values()],
        },
        fmt=format_minutes,
        summary=gettext("Charged and non-billable time per month"),
    )
    totals = {
        "entries": sum(r.entries for r in rows),
        "worked": sum(r.worked_minutes for r in rows),
        "charged": sum(r.charged_minutes for r in rows),
        "non_billable": sum(r.non_billable_minutes for r in rows),
    }
    return render(
        request,
        "reports/usage.html",
        {
            "form": form,
            "rows": rows[:ROW_LIMIT],
            "hidden_rows": max(len(rows) - ROW_LIMIT, 0),
            "label": label,
            "by": by,
            "chart": chart,
            "totals": totals,
            "first": first,
            "last": last,
        },  # fmt: skip
    )


@staff_required
def questions(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    form = QuestionReportForm(request.GET or None)
    first, last = _period(form, today)
    by = (form.cleaned_data.get("by") if form.is_valid() else None) or "client"
    rows = selectors.question_report(first=first, last=last, by=by, clients=_clients(form))
    label = str(selectors.QUESTION_DIMENSIONS[by][0])
    if _wants_csv(request):
        header = [label, gettext("Raised"), gettext("Open"), gettext("Explained"), gettext("Credited"),
                  gettext("Corrected"), gettext("Credited (min)"), gettext("Median time to answer (min)")]  # fmt: skip
        data = (
            (r.label, r.raised, r.open, r.explained, r.credited, r.corrected, r.credited_minutes,
             "" if r.median_minutes_to_resolve is None else r.median_minutes_to_resolve)
            for r in rows
        )  # fmt: skip
        return csv_response(_filename(f"questions-by-{by}", today), header, data)
    totals = {
        "raised": sum(r.raised for r in rows),
        "open": sum(r.open for r in rows),
        "credited_minutes": sum(r.credited_minutes for r in rows),
    }
    return render(
        request,
        "reports/questions.html",
        {"form": form, "rows": rows[:ROW_LIMIT], "label": label, "totals": totals, "first": first, "last": last},
    )


@staff_required
def runway(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    form = RunwayForm(request.GET or None)
    include_ended = form.is_valid() and form.cleaned_data["include_ended"]
    wants_csv = _wants_csv(request)
    rows = selectors.runway_ranking(
        today=today, include_ended=include_ended, limit=None if wants_csv else ROW_LIMIT + 1
    )
    if wants_csv:
        header = [gettext("Client"), gettext("Agreement"), gettext("Status"), gettext("Balance (min)"),
                  gettext("Charged in window (min)"), gettext("Burn per week (min)"), gettext("Runway (days)"),
                  gettext("Runs out on"), gettext("Expiring unused (min)"), gettext("First expiry unused on")]  # fmt: skip
        data = (
            (
                r.agreement.client.name,
                r.agreement.name,
                r.agreement.status,
                r.agreement.balance_minutes,
                r.agreement.burn_window_minutes,
                r.runway.burn_per_week,
                r.runway.days,
                r.runway.runs_out_on.isoformat() if r.runway.runs_out_on else "",
                r.runway.expiring_unused_minutes,
                r.runway.expiring_on.isoformat() if r.runway.expiring_on else "",
            )  # fmt: skip
            for r in rows
        )
        return csv_response(_filename("runway", today), header, data)
    shown = rows[:ROW_LIMIT]
    # Beside each balance, what open estimates will take of it (one statement for the page).
    reserved = estimates_reserved_by_agreement([r.agreement.pk for r in shown])
    for r in shown:
        r.agreement.reserved_minutes = reserved.get(r.agreement.pk, 0)
    return render(
        request,
        "reports/runway.html",
        {
            "form": form,
            "rows": shown,
            "more_rows": len(rows) > ROW_LIMIT,
            "method": selectors.runway_method(),
            "today": today,
        },
    )


@staff_required
def cash(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    form = PeriodForm(request.GET or None)
    first, last = _period(form, today)
    months = selectors.cash(first=first, last=last)
    if _wants_csv(request):
        header = [gettext("Month"), gettext("Currency"), gettext("Invoices"), gettext("Invoiced"),
                  gettext("Collected"), gettext("Outstanding at month end"), gettext("Overdue at month end"),
                  gettext("Reload invoices raised"), gettext("Reload amount raised"), gettext("Reloads paid"),
                  gettext("Reload amount paid")]  # fmt: skip
        data = (
            (
                f"{m.month:%Y-%m}",
                m.currency,
                m.invoices,
                m.invoiced,
                m.collected,
                m.outstanding,
                m.overdue,
                m.reloads_raised,
                m.reloads_raised_amount,
                m.reloads_paid,
                m.reloads_paid_amount,
            )  # fmt: skip
            for m in months
        )
        return csv_response(_filename("cash", today), header, data)
    currency = months[0].currency if months else ""
    shown = [m for m in months if m.currency == currency]
    chart = columns(
        [_month_label(m.month) for m in shown],
        {gettext("Invoiced"): [m.invoiced for m in shown], gettext("Collected"): [m.collected for m in shown]},
        fmt=lambda v: format_money(v, currency),
        summary=gettext("Invoiced and collected per month (%(currency)s)") % {"currency": currency},
    )
    return render(request, "reports/cash.html", {"form": form, "months": months, "chart": chart})


@staff_required
def msa(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    if request.method == "POST":
        seats_form = SeatsForm(request.POST)
        if seats_form.is_valid():
            profile = services.client_seats_set(
                client=seats_form.cleaned_data["client"], seats=seats_form.cleaned_data["seats"]
            )
            messages.success(
                request,
                ngettext("%(client)s: %(count)s seat.", "%(client)s: %(count)s seats.", profile.seats)
                % {"client": profile.client, "count": profile.seats},
            )
        else:
            # Name the input that was wrong: an unknown client is not a seats problem.
            for name, errors in seats_form.errors.items():
                for error in errors:
                    label = seats_form[name].label
                    messages.error(request, gettext("%(field)s: %(error)s") % {"field": label, "error": error})
        return redirect(request.get_full_path())
    form = MsaForm(request.GET or None)
    report = selectors.msa_candidates(
        today=today, candidates_only=form.is_valid() and form.cleaned_data["candidates_only"]
    )
    if _wants_csv(request):
        spend = ngettext("Spend over %(count)s month", "Spend over %(count)s months", report.months) % {
            "count": report.months
        }
        header = [gettext("Client"), gettext("Currency"), gettext("Seats"), spend, gettext("Average per month"),
                  gettext("MSA per month"), gettext("Difference per month"), gettext("Candidate")]  # fmt: skip
        data = (
            (
                r.client.name,
                r.client.currency,
                r.seats,
                r.spend,
                r.monthly_spend,
                r.msa_monthly,
                r.difference,
                gettext("yes") if r.is_candidate else gettext("no"),
            )  # fmt: skip
            for r in report.rows
        )
        return csv_response(_filename("msa-candidates", today), header, data)
    return render(
        request,
        "reports/msa.html",
        {"form": form, "report": report, "rows": report.rows[:ROW_LIMIT], "more_rows": len(report.rows) > ROW_LIMIT},
    )


def statement_download(request: HttpRequest, public_id: str) -> HttpResponse:
    """A client's statement for `?month=YYYY-MM` as PDF: the client's own contacts
    and staff only; another client's answers 404 like one that does not exist."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not (request.user.is_msp_staff or request.user.is_client_contact):
        raise Http404("No such page.")  # technicians: as ui.access, a closed page looks absent
    client = get_by_public_id(clients_for_user(request.user), public_id)
    try:
        month = parse_month(request.GET.get("month", ""))
    except ValueError:
        raise Http404("Choose a month like 2026-03.") from None
    if month > timezone.localdate().replace(day=1) or month.year < 2000:
        raise Http404("No statement for that month yet.")
    statement = statement_build(client=client, month=month)
    response = HttpResponse(statement_pdf(statement), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{statement_filename(statement)}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@staff_required
def accounting_export(request: HttpRequest) -> HttpResponse:
    """The export form; with `download`, the CSV itself (or the reason it cannot be made)."""
    today = timezone.localdate()
    this_month = today.replace(day=1)
    last_month_end = this_month - datetime.timedelta(days=1)
    initial = {"software": "quickbooks", "document": "invoices", "first": last_month_end.replace(day=1),
               "last": last_month_end}  # fmt: skip
    form = AccountingExportForm(request.GET if "download" in request.GET else None, initial=initial)
    refusal = ""
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            export = accounting.accounting_export(
                software=data["software"],
                document=data["document"],
                first=data["first"],
                last=data["last"],
                currency=data["currency"] or None,
            )
        except accounting.ExportRefused as refused:
            refusal = str(refused)
        else:
            return csv_response(export.filename, export.header, export.rows)
    return render(
        request,
        "reports/accounting.html",
        {"form": form, "refusal": refusal, "accounts": settings.ACCOUNTING},
    )
