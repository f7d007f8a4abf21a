from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing.selectors import invoices_for_user
from notifications import selectors, services
from notifications.models import OutgoingEmail
from notifications.tasks import queue_sending
from ui.access import get_by_public_id, staff_required


@staff_required
@require_POST
def invoice_send(request: HttpRequest, public_id: str) -> HttpResponse:
    invoice = get_by_public_id(invoices_for_user(request.user), public_id)
    try:
        sent = services.invoice_send(invoice=invoice, send=queue_sending)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("Invoice %(number)s is on its way to %(recipients)s.")
            % {"number": invoice.number, "recipients": ", ".join(e.recipient for e in sent)},
        )
    return redirect("billing:invoice", public_id=invoice.public_id)


@staff_required
def undelivered(request: HttpRequest) -> HttpResponse:
    """Every email that failed for good or was interrupted while sending, with its error."""
    return render(request, "notifications/undelivered.html", {"emails": selectors.emails_undelivered()[:500]})


@staff_required
@require_POST
def email_resend(request: HttpRequest, public_id: str) -> HttpResponse:
    email = get_by_public_id(OutgoingEmail.objects.select_related("agreement__client"), public_id)
    if services.email_resend(email=email, actor=request.user, send=queue_sending):
        messages.success(request, _("The email to %(recipient)s is being sent again.") % {"recipient": email.recipient})
    else:
        messages.info(
            request,
            _("The email to %(recipient)s was already sent again or delivered: nothing more was done.")
            % {"recipient": email.recipient},
        )
    # Back to the page the button was on (the list, a client, an invoice).
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect("notifications:undelivered")
    return redirect(back)
