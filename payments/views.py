"""The pay page (a signed link, no sign-in), the portal's Pay button,
Stripe's webhook endpoint, and staff's retry of a failed refund."""

from http import HTTPStatus

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.reauth import recent_login_required
from billing.selectors import credit_notes_for_user, invoice_amount_paid, invoices_for_user
from payments import provider, refunds, services
from ui.access import client_required, get_by_public_id, staff_required


def _stripe_csp(response: HttpResponse) -> HttpResponse:
    """Open the policy to Stripe.js's origin on this page only (django-csp reads this per response)."""
    js_origin = provider.origin_of(provider.js_url())
    sources = {js_origin}
    if settings.STRIPE_API_BASE:
        sources.add(provider.origin_of(settings.STRIPE_API_BASE))
    else:
        sources.add("https://api.stripe.com")
    response._csp_update = {
        "script-src": [js_origin],
        "frame-src": sorted(sources),
        "connect-src": sorted(sources),
    }
    return response


def pay(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the invoice's number, amount due and the payment form; POST (from
    static/js/pay.js): the id of the method Stripe.js created, charged here."""
    if not provider.enabled():
        raise Http404
    try:
        invoice = services.invoice_for_pay_token(token)
    except services.PayLinkError as error:
        if request.method == "POST":
            return JsonResponse({"status": "error", "message": error.message}, status=error.status)
        return render(request, "payments/pay_unavailable.html", {"message": error.message}, status=error.status)
    if request.method == "POST":
        result = services.invoice_pay(
            invoice=invoice, payment_method=request.POST.get("payment_method", ""), mandate=_mandate_of(request)
        )
        status = (
            HTTPStatus.OK if result.status in ("paid", "processing", "requires_action") else HTTPStatus.PAYMENT_REQUIRED
        )
        return JsonResponse(
            {"status": result.status, "message": result.message, "client_secret": result.client_secret}, status=status
        )
    mandate = services.invoice_mandate_text(invoice)
    context = {
        "invoice": invoice,
        "due": invoice.total - invoice_amount_paid(invoice),
        "mandate_text": mandate,
        "mandate_digest": services.mandate_digest(mandate) if mandate else "",
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "stripe_js_url": provider.js_url(),
    }
    return _stripe_csp(render(request, "payments/pay.html", context))


def _mandate_of(request: HttpRequest) -> "services.MandateAcceptance | None":
    """The SEPA mandate the payer accepted on the page (its checkbox), with who accepted it."""
    if request.POST.get("mandate_accepted") != "1":
        return None
    return services.MandateAcceptance(
        digest=request.POST.get("mandate_digest", ""),
        ip_address=request.META.get("REMOTE_ADDR", ""),
        user_agent=request.headers.get("User-Agent", ""),
    )


@client_required
def portal_pay(request: HttpRequest, public_id: str) -> HttpResponse:
    """The portal's Pay button: the client's own issued invoice, on the pay page."""
    invoice = get_by_public_id(invoices_for_user(request.user), public_id)
    if not provider.enabled():
        raise Http404
    try:
        services.invoice_check_payable(invoice)
    except services.PayLinkError as error:
        return render(request, "payments/pay_unavailable.html", {"message": error.message}, status=HTTPStatus.GONE)
    return redirect("payments:pay", token=services.pay_link_token(invoice))


@csrf_exempt  # Stripe cannot send our CSRF token; its signature is the credential
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    if not provider.enabled() or not settings.STRIPE_WEBHOOK_SECRET:
        raise Http404
    try:
        outcome = services.webhook_receive(payload=request.body, signature=request.headers.get("Stripe-Signature", ""))
    except services.BadWebhook:
        return HttpResponse("bad signature", status=HTTPStatus.BAD_REQUEST, content_type="text/plain")
    return HttpResponse(outcome, content_type="text/plain")


def _billing_client(request: HttpRequest):  # noqa: ANN202
    """The client whose billing contact the user is; 404 for other contacts (and while Stripe is off)."""
    contact = getattr(request.user, "client_contact", None)
    if contact is None or not contact.receives_invoices or not provider.enabled():
        raise Http404(_("No such page."))
    return contact.client


@client_required
def payment_method(request: HttpRequest) -> HttpResponse:
    """A billing contact's method on file for automatic reloads: see it,
    replace it (Stripe.js confirms a SetupIntent in the browser) or remove it."""
    client = _billing_client(request)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "start":
            method_type = request.POST.get("method_type", "card")
            mandate = request.POST.get("mandate_digest", "") if request.POST.get("mandate_accepted") == "1" else ""
            try:
                secret = services.setup_start(client=client, method_type=method_type, mandate=mandate)
                return JsonResponse({"client_secret": secret})
            except ValidationError as error:
                return JsonResponse({"message": " ".join(error.messages)}, status=HTTPStatus.BAD_REQUEST)
            except provider.StripeError:
                return JsonResponse({"message": _("We could not reach the payment provider; try again.")}, status=502)
        if action == "save":
            try:
                services.payment_method_save(
                    client=client, setup_intent_id=request.POST.get("setup_intent", ""), actor=request.user
                )
            except ValidationError as error:
                return JsonResponse({"message": " ".join(error.messages)}, status=HTTPStatus.BAD_REQUEST)
            messages.success(request, _("Your payment method is saved for automatic reloads."))
            return JsonResponse({"saved": True})
        if action == "remove" and services.payment_method_remove(client=client):
            messages.success(request, _("The payment method on file is removed; reload invoices come with a pay link."))
        return redirect("payments:payment_method")
    mandate = services.client_mandate_text(client)
    context = {
        "client": client,
        "saved": services.saved_method_for(client),
        "mandate_text": mandate,
        "mandate_digest": services.mandate_digest(mandate) if mandate else "",
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "stripe_js_url": provider.js_url(),
    }
    return _stripe_csp(render(request, "payments/payment_method.html", context))


@staff_required
@recent_login_required
def refund_retry(request: HttpRequest, public_id: str) -> HttpResponse:
    """POST from the invoice's page: send a credit note's failed Stripe refund
    again. A GET (back from re-authentication) only returns to that page."""
    credit_note = get_by_public_id(credit_notes_for_user(request.user), public_id)
    if request.method == "POST":
        if refunds.refund_retry(credit_note=credit_note, actor=request.user):
            messages.success(
                request,
                _("The refund of credit note %(number)s is being sent to Stripe again.")
                % {"number": credit_note.number},
            )
        else:
            messages.info(request, _("This refund is not failed; nothing changed."))
    return redirect("billing:invoice", public_id=credit_note.invoice.public_id)
