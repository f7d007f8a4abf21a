from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing.selectors import invoices_for_user
from notifications import services
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
