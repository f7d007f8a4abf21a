"""The data of the webhook events about invoices (see agreements.events)."""

from typing import Any

from agreements.events import agreement_ref
from billing.models import Invoice


def invoice_data(invoice: Invoice) -> dict[str, Any]:
    return {
        **agreement_ref(invoice.agreement),
        "invoice": {
            "id": str(invoice.public_id),
            "number": invoice.number,
            "kind": invoice.kind,
            "status": invoice.status,
            "currency": invoice.currency,
            "total": f"{invoice.total:.2f}",
            "issued_on": invoice.issued_on.isoformat() if invoice.issued_on else None,
            "due_on": invoice.due_on.isoformat() if invoice.due_on else None,
            "paid_at": invoice.paid_at.isoformat().replace("+00:00", "Z") if invoice.paid_at else None,
        },
    }
