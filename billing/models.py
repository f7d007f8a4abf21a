"""Invoices, their numbering, payments, and the seller's own details.

Models hold data and database invariants only; every change goes through
billing.services. An issued invoice is an immutable snapshot (pretix-style):
it copies the seller's and the client's details at issue, so later edits of
either change nothing on it. Invoices are never deleted: a mistake is voided,
and the void invoice keeps its number so the yearly sequence has no gaps.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

MONEY = {"max_digits": 12, "decimal_places": 2}


class SellerProfile(models.Model):
    """The MSP's own details printed on every invoice; one row, edited by staff.

    Copied onto each invoice when it is issued, so editing this never changes
    an invoice already sent.
    """

    # The single row always has pk=1 (a constraint keeps it that way).
    name = models.CharField("MSP name", max_length=200)
    address = models.TextField(blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    website = models.CharField(max_length=200, blank=True)
    tax_id = models.CharField("tax id", max_length=100, blank=True, help_text="VAT / EIN / ABN shown on invoices.")
    logo = models.ImageField(
        upload_to="seller/",
        blank=True,
        help_text="PNG or JPEG, printed at the top left of invoices. Old logos stay on old invoices.",
    )
    payment_instructions = models.TextField(blank=True, help_text="Bank details, ACH routing, where to send cheques…")
    payment_terms_days = models.PositiveIntegerField(
        "default payment terms (days)",
        default=15,
        validators=[MaxValueValidator(365)],
        help_text="0 means due on receipt; 15 is net 15.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "seller profile"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="sellerprofile_single_row"),
            models.CheckConstraint(condition=Q(payment_terms_days__lte=365), name="sellerprofile_terms_within_a_year"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        self.pk = 1  # a singleton: the admin edits the one row
        super().save(*args, **kwargs)


class InvoiceNumberCounter(models.Model):
    """The last number used in a year; its row is locked while a number is taken.

    Numbers come from this counter inside the transaction that issues the
    invoice, never from `last() + 1`: two invoices issued at the same moment
    queue on the row lock, and a rolled-back issue rolls the counter back too,
    so the sequence has neither duplicates nor gaps.
    """

    year = models.PositiveIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(last_number__gte=0), name="invoicecounter_not_negative")]

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class InvoiceKind(models.TextChoices):
    BLOCK = "block", "Block purchase"
    RELOAD = "reload", "Reload"
    OVERAGE = "overage", "Overage"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ISSUED = "issued", "Issued"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


def _invoice_pdf_path(instance: "Invoice", filename: str) -> str:
    return filename  # services choose the unguessable name themselves


class InvoiceQuerySet(models.QuerySet):
    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Invoices are never deleted: void the invoice instead.")


class Invoice(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=InvoiceKind.choices)
    status = models.CharField(max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    client = models.ForeignKey("agreements.Client", on_delete=models.PROTECT, related_name="invoices")
    agreement = models.ForeignKey("agreements.Agreement", on_delete=models.PROTECT, related_name="invoices")
    block = models.ForeignKey(
        "agreements.Block",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
        help_text="The block this invoice bills; empty for overage.",
    )
    overage_minutes = models.PositiveIntegerField(default=0, help_text="Minutes billed (overage invoices).")

    # Number: assigned at issue from the locked yearly counter; drafts have none.
    number = models.CharField(max_length=20, null=True, blank=True, unique=True)
    number_year = models.PositiveIntegerField(null=True, blank=True)
    number_sequence = models.PositiveIntegerField(null=True, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True)
    payment_terms_days = models.PositiveIntegerField(default=0)

    # Snapshot of the seller (copied at issue).
    seller_name = models.CharField(max_length=200, blank=True)
    seller_address = models.TextField(blank=True)
    seller_email = models.CharField(max_length=254, blank=True)
    seller_phone = models.CharField(max_length=50, blank=True)
    seller_website = models.CharField(max_length=200, blank=True)
    seller_tax_id = models.CharField(max_length=100, blank=True)
    seller_logo = models.CharField(max_length=255, blank=True, help_text="Storage name of the logo at issue.")
    payment_instructions = models.TextField(blank=True)
    # Snapshot of the client (copied at issue).
    client_name = models.CharField(max_length=200, blank=True)
    client_address = models.TextField(blank=True)
    client_email = models.CharField(max_length=254, blank=True)
    currency = models.CharField(max_length=3)

    subtotal = models.DecimalField(**MONEY, default=Decimal("0.00"))
    tax_rate = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Percent, from INVOICE_TAX_RATE.",
    )
    tax_label = models.CharField(max_length=50, blank=True)
    tax_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    total = models.DecimalField(**MONEY, default=Decimal("0.00"))

    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=500, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    # The PDF lives in media storage under a random name and is only ever
    # served through the access-checked download view.
    pdf = models.FileField(upload_to=_invoice_pdf_path, blank=True, max_length=255)
    pdf_status = models.CharField(
        max_length=16, blank=True, help_text="The invoice status the stored PDF shows (stale when it differs)."
    )
    pdf_rendered_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=InvoiceKind.values), name="invoice_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=InvoiceStatus.values), name="invoice_status_valid"),
            # Drafts have no number; issued and paid invoices always have one;
            # a void invoice keeps the number it had (none if voided as a draft).
            models.CheckConstraint(
                condition=(Q(status=InvoiceStatus.DRAFT) & Q(number__isnull=True))
                | (Q(status__in=[InvoiceStatus.ISSUED, InvoiceStatus.PAID]) & Q(number__isnull=False))
                | Q(status=InvoiceStatus.VOID),
                name="invoice_number_iff_issued",
            ),
            models.CheckConstraint(
                condition=(
                    Q(number__isnull=True)
                    & Q(number_year__isnull=True)
                    & Q(number_sequence__isnull=True)
                    & Q(issued_on__isnull=True)
                    & Q(due_on__isnull=True)
                )
                | (
                    Q(number__isnull=False)
                    & Q(number_year__isnull=False)
                    & Q(number_sequence__gte=1)
                    & Q(issued_on__isnull=False)
                    & Q(due_on__gte=F("issued_on"))
                ),
                name="invoice_number_parts_together",
            ),
            models.UniqueConstraint(fields=["number_year", "number_sequence"], name="invoice_number_unique_per_year"),
            models.CheckConstraint(
                condition=(Q(kind=InvoiceKind.OVERAGE) & Q(block__isnull=True) & Q(overage_minutes__gt=0))
                | (Q(kind__in=[InvoiceKind.BLOCK, InvoiceKind.RELOAD]) & Q(block__isnull=False) & Q(overage_minutes=0)),
                name="invoice_bills_a_block_or_overage",
            ),
            # One live invoice per block: a second sale of the same block is a mistake.
            models.UniqueConstraint(
                fields=["block"],
                condition=Q(block__isnull=False) & ~Q(status=InvoiceStatus.VOID),
                name="invoice_one_live_invoice_per_block",
            ),
            models.CheckConstraint(
                # total = subtotal + tax is kept by the service (an equality of
                # sums is unreliable on SQLite, which compares decimals as floats).
                condition=Q(subtotal__gte=0) & Q(tax_amount__gte=0) & Q(total__gte=0),
                name="invoice_totals_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(tax_rate__gte=0) & Q(tax_rate__lte=100), name="invoice_tax_rate_percent"
            ),
            models.CheckConstraint(
                condition=~Q(status=InvoiceStatus.PAID) | Q(paid_at__isnull=False), name="invoice_paid_has_date"
            ),
            models.CheckConstraint(
                condition=~Q(status=InvoiceStatus.VOID) | (Q(voided_at__isnull=False) & ~Q(void_reason="")),
                name="invoice_void_has_reason",
            ),
        ]
        indexes = [
            # Under the "to chase" list: open invoices by due date.
            models.Index(fields=["due_on"], condition=Q(status=InvoiceStatus.ISSUED), name="invoice_open_due_idx"),
            models.Index(fields=["client", "-created_at"], name="invoice_client_created_idx"),
        ]

    def __str__(self) -> str:
        return f"Invoice {self.number or '(draft)'} — {self.client_name or self.client_id}"

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise TypeError("Invoices are never deleted: void the invoice instead.")

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT


class InvoiceLine(models.Model):
    """One line of an invoice; `minutes` is the quantity of time lines (integer minutes)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField()
    description = models.CharField(max_length=300)
    minutes = models.PositiveIntegerField(null=True, blank=True)
    unit_price = models.DecimalField(**MONEY, help_text="Per hour; negative for a discount.")
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoiceline_position_unique"),
            # A line's sign follows its unit price: discounts are negative lines.
            models.CheckConstraint(
                condition=(Q(unit_price__gte=0) & Q(amount__gte=0)) | (Q(unit_price__lt=0) & Q(amount__lte=0)),
                name="invoiceline_amount_sign_matches_price",
            ),
        ]

    def __str__(self) -> str:
        from billing.templatetags.billing_tags import format_money, quantity

        qty = f"{quantity(self.minutes)} × " if self.minutes is not None else ""
        return f"{self.description} — {qty}{format_money(self.unit_price, self.invoice.currency)}"


class PaymentMethod(models.TextChoices):
    ACH = "ach", "ACH"
    CARD = "card", "Card"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    CHEQUE = "cheque", "Cheque"


class Payment(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    reference = models.CharField(max_length=100, help_text="ACH trace, card transaction id, cheque number…")
    amount = models.DecimalField(**MONEY)
    paid_on = models.DateField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["paid_on", "created_at", "id"]
        constraints = [
            # The same payment recorded twice (double click, retried import) is refused by the database too.
            models.UniqueConstraint(fields=["invoice", "reference"], name="payment_reference_unique_per_invoice"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=~Q(reference=""), name="payment_has_reference"),
            models.CheckConstraint(condition=Q(method__in=PaymentMethod.values), name="payment_method_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.reference}: {self.amount}"
