"""The audit log page (staff only)."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit.forms import AuditFilterForm
from audit.selectors import audit_events_filter, audit_events_for_user
from ui.access import staff_required

PAGE_SIZE = 50


@staff_required
@require_GET
def event_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    events = audit_events_for_user(request.user)
    if form.is_bound:
        # A filter that does not parse shows its error and no events, rather
        # than the whole log under a heading that claims to be filtered.
        events = audit_events_filter(events, **form.cleaned_data) if form.is_valid() else events.none()
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "audit/event_list.html", {"form": form, "page": page})
