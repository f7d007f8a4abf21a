"""Staff pages for outgoing webhooks: endpoints, their signing secret (shown
once), and the delivery log with a resend button. Writes go through
webhooks.services; every page is staff-only (404 for anyone else)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.reauth import recent_login_required
from dashboard.forms import WebhookEndpointEditForm, WebhookEndpointForm
from ui.access import get_by_public_id, staff_required
from ui.forms import add_service_errors
from webhooks import selectors
from webhooks import services as webhook_services

PAGE_SIZE = 50


def _secret_page(request: HttpRequest, new: webhook_services.NewSecret, *, rotated: bool) -> HttpResponse:
    # Rendered in the answer to the POST itself, never stored in the session or a URL: shown once.
    response = render(
        request,
        "dashboard/webhook_secret.html",
        {"endpoint": new.endpoint, "secret": new.secret, "rotated": rotated},
    )
    response["Cache-Control"] = "no-store"
    return response


@staff_required
@recent_login_required
def webhooks(request: HttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new = webhook_services.endpoint_create(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _secret_page(request, new, rotated=False)
    return render(request, "dashboard/webhooks.html", {"endpoints": selectors.endpoints_all(), "form": form})


@staff_required
def webhook(request: HttpRequest, public_id: str) -> HttpResponse:
    endpoint = get_by_public_id(selectors.endpoints_all(), public_id)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "is_active": endpoint.is_active,
    }
    form = WebhookEndpointEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            webhook_services.endpoint_update(endpoint=endpoint, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Webhook endpoint saved."))
            return redirect("dashboard:webhook", endpoint.public_id)
    page = Paginator(selectors.deliveries_of(endpoint), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "dashboard/webhook.html", {"endpoint": endpoint, "form": form, "page": page})


@staff_required
@recent_login_required(return_to="dashboard:webhook")
@require_POST
def webhook_rotate(request: HttpRequest, public_id: str) -> HttpResponse:
    endpoint = get_by_public_id(selectors.endpoints_all(), public_id)
    return _secret_page(
        request, webhook_services.endpoint_rotate_secret(endpoint=endpoint, actor=request.user), rotated=True
    )


@staff_required
@require_POST
def webhook_delete(request: HttpRequest, public_id: str) -> HttpResponse:
    endpoint = get_by_public_id(selectors.endpoints_all(), public_id)
    webhook_services.endpoint_delete(endpoint=endpoint, actor=request.user)
    messages.success(request, _("Webhook endpoint removed: %(url)s.") % {"url": endpoint.url})
    return redirect("dashboard:webhooks")


@staff_required
@require_POST
def webhook_resend(request: HttpRequest, public_id: str) -> HttpResponse:
    delivery = get_by_public_id(selectors.deliveries_all(), public_id)
    webhook_services.delivery_resend(delivery=delivery, actor=request.user)
    messages.success(request, _("Event %(event)s queued to be sent again.") % {"event": delivery.event.public_id})
    return redirect("dashboard:webhook", delivery.endpoint.public_id)
