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
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.validators import validate_single_line
from agreements.models import default_language
from billing.fields import LogoField
from billing.validators import validate_logo

MONEY = {"max_digits": 12, "decimal_places": 2}


class SellerProfile(models.Model):
    """The MSP's own details printed on every invoice; one row, edited by staff.

    Copied onto each invoice when it is issued, so editing this never changes
    an invoice already sent.
    """

    # The single row always has pk=1 (a constraint keeps it that way).
    name = models.CharField(_("MSP name"), max_length=200, validators=[validate_single_line])
    address = models.TextField(_("address"), blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True, validators=[validate_single_line])
    website = models.CharField(_("website"), max_length=200, blank=True, validators=[validate_single_line])
    tax_id = models.CharField(
        _("tax id"),
        max_length=100,
        blank=True,
        validators=[validate_single_line],
        help_text=_("VAT / EIN / ABN shown on invoices."),
    )
    logo = LogoField(
        _("logo"),
        upload_to="seller/",
        blank=True,
        validators=[validate_logo],
        help_text=_(
            "PNG or JPEG, at most 2 MB and 4000 × 4000 pixels, printed at the top left of invoices. "
            "Old logos stay on old invoices."
        ),
    )
    payment_instructions = models.TextField(
        _("payment instructions"), blank=True, help_text=_("Bank details, ACH routing, where to send cheques…")
    )
    payment_terms_days = models.PositiveIntegerField(
        _("default payment terms (days)"),
        default=15,
        validators=[MaxValueValidator(365)],
        help_text=_("0 means due on receipt; 15 is net 15."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("seller profile")
        verbose_name_plural = _("seller profiles")
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
    BLOCK = "block", _("Block purchase")
    RELOAD = "reload", pgettext_lazy("invoice kind", "Reload")
    OVERAGE = "overage", _("Overage")


# The context tells translators these describe an invoice (gender, and "Void"
# the state, not the verb on buttons).
class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("invoice status", "Draft")
    ISSUED = "issued", pgettext_lazy("invoice status", "Issued")
    PAID = "paid", pgettext_lazy("invoice status", "Paid")
    VOID = "void", pgettext_lazy("invoice status", "Void")


class BalanceBasis(models.TextChoices):
    """How an issued invoice's minutes stood against the balance when it was issued."""

    # A block whose hours are credited when its invoice is paid.
    ON_PAYMENT = "on_payment", _("Hours added once paid")
    # Already in the balance at issue: a block credited at sale (usable at once,
    # auto-reload), or overage that issuing the invoice settled.
    APPLIED = "applied", _("Already applied at issue")


def _invoice_pdf_path(instance: "Invoice", filename: str) -> str:
    return filename  # services choose the unguessable name themselves


class InvoiceQuerySet(models.QuerySet):
    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Invoices are never deleted: void the invoice instead.")


class Invoice(models.Model):
    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=16, choices=InvoiceKind.choices)
    status = models.CharField(_("status"), max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    client = models.ForeignKey(
        "agreements.Client", on_delete=models.PROTECT, related_name="invoices", verbose_name=_("client")
    )
    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.PROTECT, related_name="invoices", verbose_name=_("agreement")
    )
    block = models.ForeignKey(
        "agreements.Block",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
        verbose_name=_("block"),
        help_text=_("The block this invoice bills; empty for overage."),
    )
    overage_minutes = models.PositiveIntegerField(
        _("overage minutes"), default=0, help_text=_("Minutes billed (overage invoices).")
    )

    # Number: assigned at issue from the locked yearly counter; drafts have none.
    number = models.CharField(_("number"), max_length=20, null=True, blank=True, unique=True)
    number_year = models.PositiveIntegerField(_("number year"), null=True, blank=True)
    number_sequence = models.PositiveIntegerField(_("number sequence"), null=True, blank=True)
    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    due_on = models.DateField(_("due on"), null=True, blank=True)
    payment_terms_days = models.PositiveIntegerField(_("payment terms (days)"), default=0)

    # Snapshot of the seller (copied at issue).
    seller_name = models.CharField(_("seller name"), max_length=200, blank=True)
    seller_address = models.TextField(_("seller address"), blank=True)
    seller_email = models.CharField(_("seller email"), max_length=254, blank=True)
    seller_phone = models.CharField(_("seller phone"), max_length=50, blank=True)
    seller_website = models.CharField(_("seller website"), max_length=200, blank=True)
    seller_tax_id = models.CharField(_("seller tax id"), max_length=100, blank=True)
    seller_logo = models.CharField(
        _("seller logo"), max_length=255, blank=True, help_text=_("Storage name of the logo at issue.")
    )
    payment_instructions = models.TextField(_("payment instructions"), blank=True)
    # Snapshot of the client (copied at issue).
    client_name = models.CharField(_("client name"), max_length=200, blank=True)
    client_address = models.TextField(_("client address"), blank=True)
    client_email = models.CharField(_("client email"), max_length=254, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    # The client's language at issue: the PDF and its emails keep speaking it.
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default=default_language)

    subtotal = models.DecimalField(_("subtotal"), **MONEY, default=Decimal("0.00"))
    tax_rate = models.DecimalField(
        _("tax rate"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("Percent, from INVOICE_TAX_RATE."),
    )
    tax_label = models.CharField(_("tax label"), max_length=50, blank=True)
    tax_amount = models.DecimalField(_("tax amount"), **MONEY, default=Decimal("0.00"))
    total = models.DecimalField(_("total"), **MONEY, default=Decimal("0.00"))

    # Empty until issued (drafts, and invoices issued before balances were
    # printed): the PDF then prints no balance table.
    balance_basis = models.CharField(
        _("balance basis"),
        max_length=16,
        choices=BalanceBasis.choices,
        blank=True,
        help_text=_("Whether the balance rows' change happens once paid or happened at issue."),
    )

    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    void_reason = models.CharField(_("void reason"), max_length=500, blank=True, validators=[validate_single_line])
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("voided by"),
    )

    # The PDF lives in media storage under a random name and is only ever
    # served through the access-checked download view.
    pdf = models.FileField("PDF", upload_to=_invoice_pdf_path, blank=True, max_length=255)
    pdf_status = models.CharField(
        _("PDF status"),
        max_length=16,
        blank=True,
        help_text=_("The invoice status the stored PDF shows (stale when it differs)."),
    )
    pdf_rendered_at = models.DateTimeField(_("PDF rendered at"), null=True, blank=True)

    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
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
                condition=Q(balance_basis="") | Q(balance_basis__in=BalanceBasis.values),
                name="invoice_balance_basis_valid",
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
            # The staff's invoice list (every client), newest first.
            models.Index(fields=["-created_at", "-id"], name="invoice_list_order_idx"),
        ]

    def __str__(self) -> str:
        return gettext("Invoice %(number)s — %(client)s") % {
            "number": self.number or gettext("(draft)"),
            "client": self.client_name or self.client_id,
        }

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise TypeError("Invoices are never deleted: void the invoice instead.")

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT

    @property
    def own_balance(self) -> "InvoiceBalance | None":
        """The snapshot row of the agreement this invoice bills (prefetch `balances` for lists)."""
        return next((row for row in self.balances.all() if row.agreement_id == self.agreement_id), None)


class InvoiceLine(models.Model):
    """One line of an invoice; `minutes` is the quantity of time lines (integer minutes)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines", verbose_name=_("invoice"))
    position = models.PositiveIntegerField(_("position"))
    description = models.CharField(_("description"), max_length=300)
    minutes = models.PositiveIntegerField(_("minutes"), null=True, blank=True)
    unit_price = models.DecimalField(_("unit price"), **MONEY, help_text=_("Per hour; negative for a discount."))
    amount = models.DecimalField(_("amount"), **MONEY)

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
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


class DocumentBalance(models.Model):
    """One agreement's balance on an issued document: before it, and after it.

    Snapshotted at issue for every agreement of the client, in integer
    minutes (see selectors.document_balances), so the PDF printed later
    shows what was true that day. Subclasses add the document it belongs to.
    """

    position = models.PositiveIntegerField(_("position"))
    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.PROTECT, related_name="+", verbose_name=_("agreement")
    )
    agreement_name = models.CharField(_("agreement name"), max_length=200)
    minutes_before = models.IntegerField(_("minutes before"))
    minutes_after = models.IntegerField(_("minutes after"))

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.agreement_name}: {self.minutes_before} → {self.minutes_after} min"

    @property
    def changes(self) -> bool:
        return self.minutes_before != self.minutes_after


class InvoiceBalance(DocumentBalance):
    """A balance row of an invoice: after it once paid, or as issuing it left
    it (see Invoice.balance_basis)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="balances", verbose_name=_("invoice"))

    class Meta:
        verbose_name = _("invoice balance")
        verbose_name_plural = _("invoice balances")
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoicebalance_position_unique"),
            models.UniqueConstraint(fields=["invoice", "agreement"], name="invoicebalance_one_row_per_agreement"),
        ]


class PaymentMethod(models.TextChoices):
    ACH = "ach", "ACH"
    CARD = "card", _("Card")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    CHEQUE = "cheque", _("Cheque")
    # Collected by the seller from the client's account under a mandate (Stripe), not sent by the client.
    SEPA_DEBIT = "sepa_debit", _("SEPA Direct Debit")


class Payment(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments", verbose_name=_("invoice"))
    method = models.CharField(_("method"), max_length=16, choices=PaymentMethod.choices)
    reference = models.CharField(
        _("reference"),
        max_length=100,
        validators=[validate_single_line],
        help_text=_("ACH trace, card transaction id, cheque number…"),
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    paid_on = models.DateField(_("paid on"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("recorded by")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
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


# ---------------------------------------------------------------------------
# Credit notes: money given back against an issued invoice


class CreditNoteNumberCounter(models.Model):
    """The last credit-note number used in a year; locked while a number is
    taken, exactly like InvoiceNumberCounter (a sequence of its own)."""

    year = models.PositiveIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(last_number__gte=0), name="creditnotecounter_not_negative")]

    def __str__(self) -> str:
        return f"CN {self.year}: {self.last_number}"


class CreditNoteQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        # Only the rendered PDF's bookkeeping may change after issue.
        if set(kwargs) - {"pdf", "pdf_rendered_at"}:
            raise TypeError("Credit notes are immutable once issued.")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Credit notes are never deleted.")


class CreditNote(models.Model):
    """A refund document, numbered when issued (there are no drafts): it
    copies the seller's and the client's details like an invoice and never
    changes afterwards. Each line credits an issued invoice."""

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    client = models.ForeignKey(
        "agreements.Client", on_delete=models.PROTECT, related_name="credit_notes", verbose_name=_("client")
    )
    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.PROTECT, related_name="credit_notes", verbose_name=_("agreement")
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="credit_notes", verbose_name=_("credited invoice")
    )
    block = models.ForeignKey(
        "agreements.Block", on_delete=models.PROTECT, related_name="credit_notes", verbose_name=_("block")
    )
    minutes = models.PositiveIntegerField(_("minutes refunded"))
    reason = models.CharField(_("reason"), max_length=500, validators=[validate_single_line])

    number = models.CharField(_("number"), max_length=20, unique=True)
    number_year = models.PositiveIntegerField(_("number year"))
    number_sequence = models.PositiveIntegerField(_("number sequence"))
    issued_on = models.DateField(_("issued on"))

    # Snapshot of the seller and the client (copied at issue).
    seller_name = models.CharField(_("seller name"), max_length=200, blank=True)
    seller_address = models.TextField(_("seller address"), blank=True)
    seller_email = models.CharField(_("seller email"), max_length=254, blank=True)
    seller_phone = models.CharField(_("seller phone"), max_length=50, blank=True)
    seller_website = models.CharField(_("seller website"), max_length=200, blank=True)
    seller_tax_id = models.CharField(_("seller tax id"), max_length=100, blank=True)
    seller_logo = models.CharField(_("seller logo"), max_length=255, blank=True)
    client_name = models.CharField(_("client name"), max_length=200, blank=True)
    client_address = models.TextField(_("client address"), blank=True)
    client_email = models.CharField(_("client email"), max_length=254, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    # The credited invoice's language: the credit note speaks like the invoice it answers.
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default=default_language)

    subtotal = models.DecimalField(_("subtotal"), **MONEY)
    tax_rate = models.DecimalField(_("tax rate"), max_digits=5, decimal_places=2, default=Decimal("0.00"))
    tax_label = models.CharField(_("tax label"), max_length=50, blank=True)
    tax_amount = models.DecimalField(_("tax amount"), **MONEY, default=Decimal("0.00"))
    total = models.DecimalField(_("total"), **MONEY)

    pdf = models.FileField("PDF", upload_to=_invoice_pdf_path, blank=True, max_length=255)
    pdf_rendered_at = models.DateTimeField(_("PDF rendered at"), null=True, blank=True)

    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )

    objects = CreditNoteQuerySet.as_manager()

    class Meta:
        verbose_name = _("credit note")
        verbose_name_plural = _("credit notes")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["number_year", "number_sequence"], name="creditnote_number_unique_per_year"
            ),
            models.CheckConstraint(condition=Q(number_sequence__gte=1), name="creditnote_sequence_positive"),
            models.CheckConstraint(condition=Q(minutes__gt=0), name="creditnote_minutes_positive"),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0) & Q(tax_amount__gte=0) & Q(total__gte=0),
                name="creditnote_totals_not_negative",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="creditnote_has_reason"),
        ]
        indexes = [
            models.Index(fields=["client", "-created_at"], name="creditnote_client_created_idx"),
            # The staff's credit-note list (every client), newest first.
            models.Index(fields=["-created_at", "-id"], name="creditnote_list_order_idx"),
        ]

    def __str__(self) -> str:
        return gettext("Credit note %(number)s — %(client)s") % {"number": self.number, "client": self.client_name}

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise TypeError("Credit notes are immutable once issued.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise TypeError("Credit notes are never deleted.")

    @property
    def own_balance(self) -> "CreditNoteBalance | None":
        """The snapshot row of the agreement refunded (prefetch `balances` for lists)."""
        return next((row for row in self.balances.all() if row.agreement_id == self.agreement_id), None)


class CreditNoteLine(models.Model):
    """One line of a credit note: the hours given back of the invoice it credits."""

    credit_note = models.ForeignKey(
        CreditNote, on_delete=models.PROTECT, related_name="lines", verbose_name=_("credit note")
    )
    position = models.PositiveIntegerField(_("position"))
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="+", verbose_name=_("credited invoice"))
    description = models.CharField(_("description"), max_length=300)
    minutes = models.PositiveIntegerField(_("minutes"))
    unit_price = models.DecimalField(_("unit price"), **MONEY, help_text=_("Per hour."))
    amount = models.DecimalField(_("amount"), **MONEY)

    class Meta:
        verbose_name = _("credit note line")
        verbose_name_plural = _("credit note lines")
        ordering = ["credit_note", "position"]
        constraints = [
            models.UniqueConstraint(fields=["credit_note", "position"], name="creditnoteline_position_unique"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0) & Q(amount__gte=0) & Q(minutes__gt=0),
                name="creditnoteline_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.description


class CreditNoteBalance(DocumentBalance):
    """A balance row of a credit note: before the refund and after it (the
    hours are taken back when the note is issued)."""

    credit_note = models.ForeignKey(
        CreditNote, on_delete=models.PROTECT, related_name="balances", verbose_name=_("credit note")
    )

    class Meta:
        verbose_name = _("credit note balance")
        verbose_name_plural = _("credit note balances")
        ordering = ["credit_note", "position"]
        constraints = [
            models.UniqueConstraint(fields=["credit_note", "position"], name="creditnotebalance_position_unique"),
            models.UniqueConstraint(
                fields=["credit_note", "agreement"], name="creditnotebalance_one_row_per_agreement"
            ),
        ]
