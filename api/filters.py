"""Filters on list endpoints (django-filter). Related objects are filtered by
their public UUID; the scoped queryset underneath means a filter on another
client's id simply finds nothing."""

import django_filters as filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.settings import api_settings

from agreements.models import Agreement, AgreementStatus, Client, Ticket, TicketStatus, Tier, TimeEntry
from agreements.runway import RunwayRanking, runway_of, sort_by_runway
from billing.models import CreditNote, Invoice, InvoiceKind, InvoiceStatus


class IntegerFilter(filters.NumberFilter):
    """Whole numbers only (NumberFilter would take 0.5 for an integer field)."""

    field_class = forms.IntegerField


class ClientFilter(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Client
        fields = ["name", "is_active", "currency"]


class TierFilter(filters.FilterSet):
    hours = IntegerFilter()

    class Meta:
        model = Tier
        fields = ["is_active", "hours"]


class TicketFilter(filters.FilterSet):
    client = filters.UUIDFilter(field_name="client__public_id")
    status = filters.ChoiceFilter(choices=TicketStatus.choices)

    class Meta:
        model = Ticket
        fields = ["client", "status", "number"]


class AgreementFilter(filters.FilterSet):
    client = filters.UUIDFilter(field_name="client__public_id")
    status = filters.ChoiceFilter(choices=AgreementStatus.choices)
    balance_below = IntegerFilter(
        field_name="balance_minutes", lookup_expr="lt", label=gettext_lazy("Balance below (minutes)")
    )

    class Meta:
        model = Agreement
        fields = ["client", "status", "topup_mode", "balance_below"]


class TimeEntryFilter(filters.FilterSet):
    agreement = filters.UUIDFilter(field_name="agreement__public_id")
    ticket = filters.UUIDFilter(field_name="ticket__public_id")
    technician = filters.CharFilter(field_name="technician__username")
    work_date_from = filters.DateFilter(field_name="work_date", lookup_expr="gte")
    work_date_to = filters.DateFilter(field_name="work_date", lookup_expr="lte")
    voided = filters.BooleanFilter(field_name="voided_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = TimeEntry
        fields = ["agreement", "ticket", "technician", "work_type", "work_date_from", "work_date_to", "voided"]


class InvoiceFilter(filters.FilterSet):
    client = filters.UUIDFilter(field_name="client__public_id")
    agreement = filters.UUIDFilter(field_name="agreement__public_id")
    status = filters.ChoiceFilter(choices=InvoiceStatus.choices)
    kind = filters.ChoiceFilter(choices=InvoiceKind.choices)
    issued_from = filters.DateFilter(field_name="issued_on", lookup_expr="gte")
    issued_to = filters.DateFilter(field_name="issued_on", lookup_expr="lte")

    class Meta:
        model = Invoice
        fields = ["client", "agreement", "status", "kind", "issued_from", "issued_to"]


class CreditNoteFilter(filters.FilterSet):
    client = filters.UUIDFilter(field_name="client__public_id")
    agreement = filters.UUIDFilter(field_name="agreement__public_id")
    invoice = filters.UUIDFilter(field_name="invoice__public_id")
    issued_from = filters.DateFilter(field_name="issued_on", lookup_expr="gte")
    issued_to = filters.DateFilter(field_name="issued_on", lookup_expr="lte")

    class Meta:
        model = CreditNote
        fields = ["client", "agreement", "invoice", "issued_from", "issued_to"]


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, but a filter given with no value or a boolean that is not
    true/false is a 400 instead of being silently ignored (which would return
    the unfiltered list as if the filter had matched)."""

    def get_filterset(self, request, queryset, view):  # noqa: ANN001, ANN201
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        errors = {}
        for name, declared in filterset.filters.items():
            for value in request.query_params.getlist(name):
                if value == "":
                    errors[name] = [gettext("Give a value, or leave the filter out.")]
                elif isinstance(declared, filters.BooleanFilter) and value not in ("true", "false"):
                    errors[name] = [gettext("Use true or false.")]
        if errors:
            raise ValidationError(errors)
        return filterset


def check_known_query_parameters(request, view, queryset) -> None:  # noqa: ANN001
    """A 400 naming any query parameter the list does not know: a misspelt
    filter (`?stauts=paid`) would otherwise be ignored and the whole list
    returned as if it had matched. Known: the pagination's, `format`, and
    those of the view's filter backends (its filters and `ordering`)."""
    pagination = view.paginator
    if not isinstance(queryset, QuerySet):  # a list ordered in Python (RunwayOrderingFilter)
        queryset = view.get_queryset()
    known = {pagination.page_query_param, pagination.page_size_query_param, api_settings.URL_FORMAT_OVERRIDE}
    for backend_class in view.filter_backends:
        backend = backend_class()
        if isinstance(backend, DjangoFilterBackend):
            filterset_class = backend.get_filterset_class(view, queryset)
            if filterset_class is not None:
                known.update(filterset_class.base_filters)
        if isinstance(backend, OrderingFilter):
            known.add(backend.ordering_param)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        message = gettext("Unknown query parameter. Known: %(known)s.") % {"known": ", ".join(sorted(known))}
        raise ValidationError({name: [message] for name in unknown})


class RunwayOrderingFilter(OrderingFilter):
    """`ordering` for agreements, where `runway_days` is the expiry-aware
    runway computed in Python (agreements.runway), not a column: ordering by
    it alone pages through `RunwayRanking`; combined with other fields, the
    fetched list is sorted here. Nulls (no burn) come last either way."""

    def filter_queryset(self, request, queryset, view):  # noqa: ANN001, ANN201
        ordering = self.get_ordering(request, queryset, view) or []
        if not any(term.lstrip("-") == "runway_days" for term in ordering):
            return super().filter_queryset(request, queryset, view)
        today = timezone.localdate()
        if len(ordering) == 1:
            return RunwayRanking(queryset, today=today, descending=ordering[0].startswith("-"))
        items = list(queryset)
        runways = {agreement.pk: runway_of(agreement, today=today) for agreement in items}
        # Stable sorts from the last key to the first: a multi-key order.
        for term in reversed(ordering):
            field, descending = term.lstrip("-"), term.startswith("-")
            if field == "runway_days":
                items = sort_by_runway(items, runway=lambda a: runways[a.pk], descending=descending)
            else:
                items.sort(key=lambda a, field=field: getattr(a, field), reverse=descending)
        return items
