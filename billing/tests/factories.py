from agreements import services as agreement_services
from agreements.tests.factories import tier
from billing import services
from billing.models import Invoice, InvoiceKind


def issued_block_invoice(agreement, staff, *, hours: int = 20, kind: str = InvoiceKind.BLOCK) -> Invoice:
    """A block of a default tier (10, 20 or 30 h) sold and invoiced."""
    return services.invoice_sell_block(agreement=agreement, tier=tier(hours), actor=staff, kind=kind)


def draft_block_invoice(agreement, staff, *, hours: int = 20) -> Invoice:
    block = agreement_services.block_sell(agreement=agreement, tier=tier(hours), actor=staff)
    return services.invoice_create_for_block(block=block, kind=InvoiceKind.BLOCK, actor=staff)
