"""Shapes of the API's requests and responses.

Input serializers check types and formats only; every rule about what is
allowed (durations, balances, who may do what) lives in the services they
feed. Time is integer minutes; money is a decimal string beside a currency.
"""

import copy
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from accounts.validators import validate_single_line
from agreements.domain import MAX_BLOCK_HOURS, MAX_BLOCK_MINUTES, MAX_ENTRY_MINUTES
from agreements.models import (
    MAX_GRACE_DAYS,
    MAX_RENEWAL_INVOICE_DAYS,
    MAX_ROLLOVER_GRACE_MONTHS,
    Agreement,
    Block,
    BurnOrder,
    BusinessHours,
    ChargeQuestion,
    Client,
    ClientContact,
    CreditPolicy,
    Estimate,
    Holiday,
    LedgerEntry,
    OveragePolicy,
    QuestionStatus,
    RolloverPolicy,
    RoundingMode,
    TermEndAction,
    Ticket,
    Tier,
    TimeEntry,
    Timer,
    TopupMode,
    WorkType,
)
from agreements.runway import runway_of
from agreements.selectors import (
    agreements_for_user,
    clients_for_user,
    tickets_for_user,
    time_entries_for_user,
    unbilled_overage_of,
)
from agreements.services.estimates import estimates_reserved_by_agreement
from agreements.services.timers import timer_elapsed_minutes
from api.fields import (
    AmountInputField,
    BoundedIntegerField,
    LocalTimeField,
    MoneyField,
    MultiplierField,
    PublicIdRelatedField,
    StrictBooleanField,
    StrictCharField,
    StrictEmailField,
    StrictPrimaryKeyRelatedField,
    StrictRegexField,
    StrictSlugRelatedField,
)
from api.models import ApiToken
from billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, InvoiceStatus, Payment, PaymentMethod

CURRENCY_FIELD = {"read_only": True, "help_text": "ISO 4217 code of every amount in this object."}


def _public_id(**kwargs: object) -> serializers.UUIDField:
    return serializers.UUIDField(source="public_id", read_only=True, **kwargs)


# ---------------------------------------------------------------------------
# Catalogue


class FieldsBuiltOnceModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer that builds its fields from the model once per class.

    DRF introspects the model and builds every field again for each instance,
    about a tenth of the hot time-entry POST's CPU (issue 20). The fields a
    ModelSerializer builds depend on its class only (Meta, declared fields,
    the model), so the first instance's are kept as a template and each
    instance gets its own deep copy, unbound, as DRF's declared fields are.
    Not for a serializer whose fields depend on its context or instance.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        cls = type(self)
        template = cls.__dict__.get("_fields_template")
        if template is None:
            template = super().get_fields()
            cls._fields_template = template  # a race builds it twice, alike
        return copy.deepcopy(template)


class TierSerializer(serializers.ModelSerializer):
    minutes = serializers.IntegerField(read_only=True)
    discount_per_hour = MoneyField(read_only=True, help_text="Off the client's hourly rate, in the client's currency.")

    class Meta:
        model = Tier
        fields = ["id", "name", "hours", "minutes", "discount_per_hour", "is_active"]


class WorkTypeSerializer(serializers.ModelSerializer):
    multiplier = MultiplierField(read_only=True)

    class Meta:
        model = WorkType
        fields = ["id", "name", "multiplier", "is_active", "is_after_hours"]


# ---------------------------------------------------------------------------
# Clients


def _reserved_for(serializer: serializers.Serializer, pk: int, *, by_client: bool) -> int:
    """Minutes reserved by open estimates for an agreement (or a client's agreements), read once for
    every object of the list or page being serialized."""
    cache = serializer.context.setdefault("reserved_by_estimates", {})
    key = ("client" if by_client else "agreement", pk)
    if key not in cache:
        parent = getattr(serializer, "parent", None)
        objects = list(parent.instance) if parent is not None and parent.instance is not None else []
        ids = {obj.pk for obj in objects} | {pk}
        if by_client:
            agreements = dict(Agreement.objects.filter(client_id__in=ids).values_list("pk", "client_id"))
            reserved = estimates_reserved_by_agreement(list(agreements))
            totals = dict.fromkeys(ids, 0)
            for agreement_id, minutes in reserved.items():
                totals[agreements[agreement_id]] += minutes
        else:
            reserved = estimates_reserved_by_agreement(list(ids))
            totals = {i: reserved.get(i, 0) for i in ids}
        cache.update({("client" if by_client else "agreement", i): m for i, m in totals.items()})
    return cache[key]


class ClientSerializer(serializers.ModelSerializer):
    id = _public_id()
    billing_email = serializers.CharField(read_only=True, help_text="Accounts-payable address; may be empty.")
    hourly_rate = MoneyField(read_only=True)
    currency = serializers.CharField(**CURRENCY_FIELD)
    reserved_by_estimates_minutes = serializers.SerializerMethodField(
        help_text="Minutes the client's open estimates will take of its agreements' balances."
    )

    def get_reserved_by_estimates_minutes(self, client: Client) -> int:
        return _reserved_for(self, client.pk, by_client=True)

    class Meta:
        model = Client
        fields = [
            "id",
            "name",
            "billing_name",
            "billing_address",
            "billing_email",
            "hourly_rate",
            "currency",
            "language",
            "is_active",
            "reserved_by_estimates_minutes",
            "created_at",
        ]
        read_only_fields = fields


class ClientCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)
    hourly_rate = AmountInputField(required=False, default=Decimal("100.00"))
    currency = StrictRegexField(r"^[A-Za-z]{3}$", required=False, help_text="ISO 4217, e.g. USD.")
    billing_name = StrictCharField(max_length=200, required=False, default="", allow_blank=True)
    billing_address = StrictCharField(max_length=2000, required=False, default="", allow_blank=True)
    billing_email = StrictEmailField(required=False, default="", allow_blank=True)
    language = serializers.ChoiceField(
        choices=settings.LANGUAGES,
        required=False,
        default="",
        help_text="Language of the client's invoices, statements and emails; default: the site's.",
    )


class ContactSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True, help_text="May be empty.")
    password_set = serializers.SerializerMethodField(
        help_text="False until the contact accepts an invitation and chooses a password."
    )

    class Meta:
        model = ClientContact
        fields = ["username", "first_name", "last_name", "email", "receives_invoices", "password_set"]
        read_only_fields = fields

    def get_password_set(self, contact: ClientContact) -> bool:
        return contact.user.has_usable_password()


class ContactCreateSerializer(serializers.Serializer):
    username = StrictRegexField(r"^[\w.@+-]{1,150}$", help_text="Letters, digits and @/./+/-/_ only.")
    email = StrictEmailField()
    first_name = StrictCharField(max_length=150, required=False, default="", allow_blank=True)
    last_name = StrictCharField(max_length=150, required=False, default="", allow_blank=True)
    receives_invoices = StrictBooleanField(required=False, default=True)


# ---------------------------------------------------------------------------
# Tickets


class TicketSerializer(serializers.ModelSerializer):
    id = _public_id()
    client = serializers.UUIDField(source="client.public_id", read_only=True)

    class Meta:
        model = Ticket
        fields = ["id", "client", "number", "subject", "status", "created_at"]
        read_only_fields = fields


class TicketCreateSerializer(serializers.Serializer):
    client = PublicIdRelatedField(scope=clients_for_user, unknown=_("No client with id “%(id)s”."))
    # The service's single-line rule, checked here so the refusal names these fields.
    number = StrictCharField(max_length=64, validators=[validate_single_line])
    subject = StrictCharField(
        max_length=300, required=False, default="", allow_blank=True, validators=[validate_single_line]
    )


# ---------------------------------------------------------------------------
# Agreements


class RunwaySerializer(serializers.Serializer):
    burn_per_week_minutes = serializers.IntegerField(
        source="burn_per_week", help_text="Charged minutes per week over the last 8 weeks."
    )
    runway_days = serializers.IntegerField(
        source="days",
        allow_null=True,
        help_text="Whole days until the balance runs out, at the current burn or at the expiry of the hours, "
        "whichever comes first; null when nothing is burning and some hours never expire.",
    )
    runs_out_on = serializers.DateField(
        allow_null=True,
        help_text="Whichever comes first: the forecast at the current burn, or the expiry of the hours left.",
    )
    expiring_unused_minutes = serializers.IntegerField(
        help_text="Minutes in expiring blocks that the current burn will not use before they expire (breakage "
        "risk); 0 when none."
    )
    expiring_on = serializers.DateField(
        allow_null=True, help_text="The first date on which hours expire unused; null when none do."
    )


class AgreementSerializer(FieldsBuiltOnceModelSerializer):
    id = _public_id()
    client = serializers.UUIDField(source="client.public_id", read_only=True)
    client_name = serializers.CharField(source="client.name", read_only=True)
    currency = serializers.CharField(source="client.currency", **CURRENCY_FIELD)
    work_types = serializers.SerializerMethodField(help_text="Ids of the work types covered; empty means all.")
    runway = serializers.SerializerMethodField()
    reserved_by_estimates_minutes = serializers.SerializerMethodField(
        help_text="Minutes open estimates will take of the balance: waiting ones in full, approved ones less "
        "the time logged on their ticket since."
    )
    overage_rate = MoneyField(
        read_only=True, allow_null=True, help_text="Hourly rate for overage (bill-overage); null: the client's rate."
    )
    overage_unbilled_minutes = serializers.SerializerMethodField(
        help_text="Time charged beyond every block and not billed yet (bill-overage policy only)."
    )
    position = serializers.IntegerField(
        read_only=True,
        help_text="Place in the client's order (1 first): time logged for the client goes to the first "
        "active agreement that covers its work type and can take it under its overage policy.",
    )

    class Meta:
        model = Agreement
        fields = [
            "id",
            "client",
            "client_name",
            "name",
            "position",
            "status",
            "starts_on",
            "ends_on",
            "low_balance_threshold_minutes",
            "usage_alert_percent",
            "billing_increment_minutes",
            "rounding_mode",
            "minimum_billable_minutes",
            "weekends_holidays_after_hours",
            "overage_policy",
            "overage_limit_minutes",
            "overage_rate",
            "overage_unbilled_minutes",
            "credit_policy",
            "topup_mode",
            "reload_tier",
            "work_types",
            "term_end_action",
            "renewal_tier",
            "renewal_invoice_days",
            "rollover_policy",
            "rollover_cap_minutes",
            "rollover_cap_percent",
            "rollover_grace_months",
            "grace_days",
            "burn_order",
            "balance_minutes",
            "reserved_by_estimates_minutes",
            "currency",
            "runway",
            "created_at",
        ]
        read_only_fields = fields

    def get_reserved_by_estimates_minutes(self, agreement: Agreement) -> int:
        return _reserved_for(self, agreement.pk, by_client=False)

    def get_work_types(self, agreement: Agreement) -> list[int]:
        if "work_types" in getattr(agreement, "_prefetched_objects_cache", {}):
            return [work_type.pk for work_type in agreement.work_types.all()]  # lists prefetch them
        return list(agreement.work_types.values_list("pk", flat=True).order_by("pk"))

    def get_overage_unbilled_minutes(self, agreement: Agreement) -> int:
        held = sum(block.minutes_left for block in agreement.runway_blocks)  # read with the runway
        return unbilled_overage_of(agreement, held_minutes=held)

    @extend_schema_field(RunwaySerializer)
    def get_runway(self, agreement: Agreement) -> dict:
        return RunwaySerializer(runway_of(agreement)).data


class AgreementSettingsSerializer(serializers.Serializer):
    """The settings an agreement is created with and staff change later
    (agreements.services.AGREEMENT_SETTINGS); none is required."""

    name = StrictCharField(max_length=200, required=False)
    # JSON integers only, as everywhere in the API; agreements.services checks the bounds.
    low_balance_threshold_minutes = BoundedIntegerField(minimum=0, maximum=MAX_BLOCK_MINUTES, required=False)
    usage_alert_percent = BoundedIntegerField(
        minimum=1,
        maximum=99,
        required=False,
        allow_null=True,
        help_text="Notice when this share of the latest block is used; null: no such notice.",
    )
    billing_increment_minutes = BoundedIntegerField(minimum=1, maximum=MAX_ENTRY_MINUTES, required=False)
    rounding_mode = serializers.ChoiceField(RoundingMode.choices, required=False)
    minimum_billable_minutes = BoundedIntegerField(
        minimum=0,
        maximum=MAX_ENTRY_MINUTES,
        required=False,
        help_text="Each entry charges at least this, after rounding and before the work-type multiplier; 0: none.",
    )
    weekends_holidays_after_hours = StrictBooleanField(
        required=False,
        help_text="Entries with a start time on closed weekdays and holidays are after-hours (default true); "
        "false: normal time.",
    )
    overage_policy = serializers.ChoiceField(OveragePolicy.choices, required=False)
    overage_limit_minutes = BoundedIntegerField(minimum=0, maximum=MAX_BLOCK_MINUTES, required=False)
    overage_rate = AmountInputField(
        required=False, allow_null=True, help_text="Hourly rate for overage (bill-overage only); null: the client's."
    )
    credit_policy = serializers.ChoiceField(CreditPolicy.choices, required=False)
    topup_mode = serializers.ChoiceField(TopupMode.choices, required=False)
    reload_tier = StrictPrimaryKeyRelatedField(queryset=Tier.objects.all(), required=False, allow_null=True)
    # The end of the term; agreements.services refuses a setting its action or policy does not read.
    term_end_action = serializers.ChoiceField(TermEndAction.choices, required=False)
    renewal_tier = StrictPrimaryKeyRelatedField(queryset=Tier.objects.all(), required=False, allow_null=True)
    renewal_invoice_days = BoundedIntegerField(
        minimum=0, maximum=MAX_RENEWAL_INVOICE_DAYS, required=False, allow_null=True
    )
    rollover_policy = serializers.ChoiceField(RolloverPolicy.choices, required=False)
    rollover_cap_minutes = BoundedIntegerField(minimum=1, maximum=MAX_BLOCK_MINUTES, required=False, allow_null=True)
    rollover_cap_percent = BoundedIntegerField(minimum=1, maximum=100, required=False, allow_null=True)
    rollover_grace_months = BoundedIntegerField(minimum=0, maximum=MAX_ROLLOVER_GRACE_MONTHS, required=False)
    grace_days = BoundedIntegerField(minimum=0, maximum=MAX_GRACE_DAYS, required=False)
    burn_order = serializers.ChoiceField(
        BurnOrder.choices,
        required=False,
        help_text="Which block time is taken from first: the oldest (default), or the one expiring soonest "
        "(blocks that never expire last; ties by age).",
    )


class AgreementCreateSerializer(AgreementSettingsSerializer):
    client = PublicIdRelatedField(scope=clients_for_user, unknown=_("No client with id “%(id)s”."))
    starts_on = serializers.DateField(required=False)
    ends_on = serializers.DateField(required=False, allow_null=True)
    work_types = StrictPrimaryKeyRelatedField(queryset=WorkType.objects.all(), many=True, required=False)
    position = BoundedIntegerField(
        minimum=1,
        maximum=None,  # the client's number of agreements, checked by the service
        required=False,
        help_text="Place in the client's order (1 first); default: after the client's other agreements.",
    )


class AgreementUpdateSerializer(AgreementSettingsSerializer):
    """What staff change on an agreement after creating it: any of its
    settings, its place in the client's order and the work types it covers."""

    position = BoundedIntegerField(
        minimum=1,
        maximum=None,  # the client's number of agreements, checked by the service
        required=False,
        help_text="Move the agreement to this place in its client's order (1 first); the others shift by one.",
    )
    work_types = StrictPrimaryKeyRelatedField(
        queryset=WorkType.objects.all(),
        many=True,
        required=False,
        help_text="Ids of the work types the agreement covers; an empty list means all.",
    )

    def validate(self, data: dict) -> dict:
        # An unknown field is refused, not ignored: a misspelt setting would
        # otherwise answer 200 and change nothing.
        unknown = sorted(set(getattr(self, "initial_data", {})) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: [_("Not a setting that can be changed.")] for name in unknown})
        if not data:
            raise serializers.ValidationError(_("Give at least one setting, position or work_types."))
        return data


class LedgerEntrySerializer(serializers.ModelSerializer):
    block = serializers.SerializerMethodField()
    time_entry = serializers.SerializerMethodField()
    ticket_number = serializers.SerializerMethodField()
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    balance_after_minutes = serializers.IntegerField(
        source="running_balance", read_only=True, help_text="The agreement's balance after this entry."
    )

    class Meta:
        model = LedgerEntry
        fields = [
            "kind",
            "minutes",
            "balance_after_minutes",
            "block",
            "time_entry",
            "ticket_number",
            "after_hours",
            "reason",
            "author",
            "created_at",
        ]
        read_only_fields = fields

    def get_block(self, entry: LedgerEntry) -> str | None:
        return str(entry.block.public_id) if entry.block_id else None

    def get_time_entry(self, entry: LedgerEntry) -> str | None:
        return str(entry.time_entry.public_id) if entry.time_entry_id else None

    def get_ticket_number(self, entry: LedgerEntry) -> str | None:
        return entry.time_entry.ticket.number if entry.time_entry_id else None


class AdjustmentEntrySerializer(LedgerEntrySerializer):
    class Meta(LedgerEntrySerializer.Meta):
        fields = [name for name in LedgerEntrySerializer.Meta.fields if name != "balance_after_minutes"]
        read_only_fields = fields


# ---------------------------------------------------------------------------
# Blocks and purchases


class InvoiceSummarySerializer(serializers.ModelSerializer):
    id = _public_id()
    total = MoneyField(read_only=True)
    currency = serializers.CharField(**CURRENCY_FIELD)

    class Meta:
        model = Invoice
        fields = ["id", "number", "kind", "status", "issued_on", "due_on", "total", "currency"]
        read_only_fields = fields


class BlockSerializer(serializers.ModelSerializer):
    id = _public_id()
    tier = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="Null for custom hours, goodwill and moved hours."
    )
    rate = MoneyField(read_only=True, help_text="Per hour, after any discount.")
    amount = MoneyField(read_only=True)
    currency = serializers.CharField(**CURRENCY_FIELD)
    is_goodwill = serializers.BooleanField(
        read_only=True, help_text="Free hours granted by staff: rate and amount 0, no invoice."
    )
    moved_from = serializers.UUIDField(
        source="moved_from.public_id",
        read_only=True,
        allow_null=True,
        help_text="The block of another agreement of the client these hours were moved from, at its rate.",
    )

    class Meta:
        model = Block
        fields = [
            "id",
            "tier",
            "minutes",
            "rate",
            "amount",
            "currency",
            "starts_on",
            "expires_on",
            "paid_at",
            "credited_at",
            "cancelled_at",
            "created_at",
            "is_goodwill",
            "moved_from",
        ]
        read_only_fields = fields


class ExpiryChangeSerializer(serializers.Serializer):
    expires_on = serializers.DateField(
        allow_null=True, help_text="The block's new last usable day, today or later; null: it never expires."
    )
    reason = StrictCharField(max_length=400)


class ExpiryChangeResultSerializer(serializers.Serializer):
    block = BlockSerializer(help_text="The block with its new expiry date.")
    previous_expires_on = serializers.DateField(allow_null=True, help_text="null: it did not expire.")
    reason = serializers.CharField(help_text="As given.")
    entry = AdjustmentEntrySerializer(help_text="The ledger entry recording the change (0 minutes).")


class PurchaseSerializer(serializers.Serializer):
    tier = StrictPrimaryKeyRelatedField(
        queryset=Tier.objects.all(), required=False, allow_null=True, help_text="A tier id, or give hours."
    )
    hours = BoundedIntegerField(
        minimum=1,
        maximum=MAX_BLOCK_HOURS,
        required=False,
        allow_null=True,
        help_text="Custom whole hours at the client's rate.",
    )


class PurchaseResultSerializer(serializers.Serializer):
    block = BlockSerializer()
    invoice = InvoiceSummarySerializer()
    overage_invoice = InvoiceSummarySerializer(
        allow_null=True, help_text="Bill-overage agreements: the unbilled overage, billed with the sale."
    )
    balance_minutes = serializers.IntegerField()


class GoodwillSerializer(serializers.Serializer):
    minutes = BoundedIntegerField(minimum=1, maximum=MAX_BLOCK_MINUTES, help_text="Free minutes to grant.")
    reason = StrictCharField(max_length=500, validators=[validate_single_line])
    expires_on = serializers.DateField(
        required=False, allow_null=True, help_text="Not before today; omit for the agreement's term end, or never."
    )


class GoodwillResultSerializer(serializers.Serializer):
    block = BlockSerializer()
    entries = AdjustmentEntrySerializer(many=True, help_text="The ledger entries written.")
    balance_minutes = serializers.IntegerField()


class HoursMoveSerializer(serializers.Serializer):
    to_agreement = PublicIdRelatedField(
        scope=agreements_for_user,
        unknown=_("No agreement with id “%(id)s”."),
        help_text="Another active agreement of the same client.",
    )
    minutes = BoundedIntegerField(
        minimum=1, maximum=MAX_BLOCK_MINUTES, help_text="Unused minutes of the block to move, at its rate."
    )
    reason = StrictCharField(max_length=500, validators=[validate_single_line])


class HoursMoveResultSerializer(serializers.Serializer):
    block = BlockSerializer(help_text="The new block on the target agreement.")
    from_block = BlockSerializer(help_text="The block the hours came from.")
    entries = AdjustmentEntrySerializer(many=True, help_text="The ledger entries written, on both agreements.")
    balance_minutes = serializers.IntegerField(help_text="The source agreement's balance now.")
    to_balance_minutes = serializers.IntegerField(help_text="The target agreement's balance now.")


class AdjustmentSerializer(serializers.Serializer):
    minutes = BoundedIntegerField(
        minimum=-MAX_BLOCK_MINUTES, maximum=MAX_BLOCK_MINUTES, help_text="Signed, non-zero: negative deducts."
    )
    reason = StrictCharField(max_length=500)


class AdjustmentResultSerializer(serializers.Serializer):
    entries = AdjustmentEntrySerializer(many=True)
    balance_minutes = serializers.IntegerField()


# ---------------------------------------------------------------------------
# Time entries


class TimeEntrySerializer(FieldsBuiltOnceModelSerializer):
    id = _public_id()
    agreement = serializers.UUIDField(
        source="agreement.public_id",
        read_only=True,
        help_text="The agreement charged: the one given, or the one chosen for an entry logged by client.",
    )
    agreement_name = serializers.CharField(source="agreement.name", read_only=True)
    client = serializers.UUIDField(source="agreement.client.public_id", read_only=True)
    ticket = serializers.UUIDField(source="ticket.public_id", read_only=True)
    ticket_number = serializers.CharField(source="ticket.number", read_only=True)
    technician = serializers.SlugRelatedField(slug_field="username", read_only=True)
    work_type = serializers.PrimaryKeyRelatedField(read_only=True)
    corrects = serializers.SerializerMethodField()
    started_at = LocalTimeField(
        read_only=True, allow_null=True, help_text="When the work started (the MSP's local time); null: not given."
    )
    after_hours_minutes = serializers.IntegerField(
        read_only=True, help_text="Of the minutes after rounding, those outside business hours (start time given)."
    )
    after_hours_charged_minutes = serializers.IntegerField(
        read_only=True, help_text="Of charged_minutes, those charged for the after-hours part at its rate."
    )

    class Meta:
        model = TimeEntry
        fields = [
            "id",
            "agreement",
            "agreement_name",
            "client",
            "ticket",
            "ticket_number",
            "technician",
            "work_date",
            "started_at",
            "minutes",
            "work_type",
            "charged_minutes",
            "after_hours_minutes",
            "after_hours_charged_minutes",
            "notes",
            "voided_at",
            "void_reason",
            "corrects",
            "created_at",
        ]
        read_only_fields = fields

    def get_corrects(self, entry: TimeEntry) -> str | None:
        return str(entry.corrects.public_id) if entry.corrects_id else None


class TimeEntryCreateSerializer(serializers.Serializer):
    agreement = PublicIdRelatedField(
        scope=agreements_for_user,
        unknown=_("No agreement with id “%(id)s”."),
        required=False,
        help_text="The agreement to charge; or give client instead.",
    )
    client = PublicIdRelatedField(
        scope=clients_for_user,
        unknown=_("No client with id “%(id)s”."),
        required=False,
        help_text="Charge the client's first agreement, in the order staff set, that is active, covers the work "
        "type and can take the time under its overage policy; the response names the agreement chosen.",
    )
    ticket = PublicIdRelatedField(
        scope=tickets_for_user,
        unknown=_("No ticket with id “%(id)s”."),
        required=False,
        help_text="A ticket id, or give ticket_number.",
    )
    ticket_number = StrictCharField(
        max_length=64,
        required=False,
        validators=[validate_single_line],
        help_text="The client's ticket number; a new number needs ticket_subject.",
    )
    ticket_subject = StrictCharField(
        max_length=300, required=False, default="", allow_blank=True, validators=[validate_single_line]
    )
    work_date = serializers.DateField()
    started_at = LocalTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text='When the work started, "HH:MM" in the MSP\'s local time: the part outside business hours is '
        "charged at the after-hours rate. Omit it to charge the whole entry at the work type's rate.",
    )
    minutes = BoundedIntegerField(
        minimum=1, maximum=MAX_ENTRY_MINUTES, help_text="Time worked, in whole minutes (1 to 1440)."
    )
    work_type = StrictPrimaryKeyRelatedField(queryset=WorkType.objects.all())
    notes = StrictCharField(
        max_length=5000,
        required=False,
        default="",
        allow_blank=True,
        trim_whitespace=False,
        help_text="Plain text, stored as typed (HTML is never interpreted).",
    )

    def validate(self, data: dict) -> dict:
        if ("agreement" in data) == ("client" in data):
            raise serializers.ValidationError({"agreement": _("Give either agreement or client, not both.")})
        if ("ticket" in data) == ("ticket_number" in data):
            raise serializers.ValidationError({"ticket": _("Give either ticket (an id) or ticket_number, not both.")})
        return data


class TimerSerializer(serializers.ModelSerializer):
    id = _public_id()
    technician = serializers.SlugRelatedField(slug_field="username", read_only=True)
    client = serializers.UUIDField(source="client.public_id", read_only=True)
    agreement = serializers.UUIDField(
        source="agreement.public_id",
        read_only=True,
        allow_null=True,
        help_text="The agreement to charge; null: the client's agreements take the time in their order.",
    )
    ticket = serializers.UUIDField(source="ticket.public_id", read_only=True)
    ticket_number = serializers.CharField(source="ticket.number", read_only=True)
    work_type = serializers.PrimaryKeyRelatedField(read_only=True)
    elapsed_minutes = serializers.SerializerMethodField(
        help_text="Whole minutes since started_at, rounded up (at least 1)."
    )

    class Meta:
        model = Timer
        fields = [
            "id",
            "technician",
            "client",
            "agreement",
            "ticket",
            "ticket_number",
            "work_type",
            "notes",
            "started_at",
            "elapsed_minutes",
        ]
        read_only_fields = fields

    def get_elapsed_minutes(self, timer: Timer) -> int:
        return timer_elapsed_minutes(started_at=timer.started_at, now=timezone.now())


class TimerStartSerializer(serializers.Serializer):
    agreement = PublicIdRelatedField(
        scope=agreements_for_user,
        unknown=_("No agreement with id “%(id)s”."),
        required=False,
        help_text="The agreement to charge; or give client instead.",
    )
    client = PublicIdRelatedField(
        scope=clients_for_user,
        unknown=_("No client with id “%(id)s”."),
        required=False,
        help_text="The client whose agreements take the time in their order, when the entry is logged.",
    )
    ticket = PublicIdRelatedField(
        scope=tickets_for_user,
        unknown=_("No ticket with id “%(id)s”."),
        required=False,
        help_text="A ticket id, or give ticket_number.",
    )
    ticket_number = StrictCharField(
        max_length=64,
        required=False,
        validators=[validate_single_line],
        help_text="The client's ticket number; a new number needs ticket_subject.",
    )
    ticket_subject = StrictCharField(
        max_length=300, required=False, default="", allow_blank=True, validators=[validate_single_line]
    )
    work_type = StrictPrimaryKeyRelatedField(queryset=WorkType.objects.all())
    notes = StrictCharField(
        max_length=5000,
        required=False,
        default="",
        allow_blank=True,
        trim_whitespace=False,
        help_text="Plain text, stored as typed (HTML is never interpreted).",
    )

    def validate(self, data: dict) -> dict:
        if ("agreement" in data) == ("client" in data):
            raise serializers.ValidationError({"agreement": _("Give either agreement or client, not both.")})
        if ("ticket" in data) == ("ticket_number" in data):
            raise serializers.ValidationError({"ticket": _("Give either ticket (an id) or ticket_number, not both.")})
        return data


class TimerPrefillSerializer(serializers.Serializer):
    """A body for POST /api/v1/time-entries/: check it, correct it if needed, and post it."""

    agreement = serializers.UUIDField(required=False, help_text="Given when the timer named an agreement.")
    client = serializers.UUIDField(required=False, help_text="Given when the timer named the client only.")
    ticket = serializers.UUIDField()
    work_date = serializers.DateField(help_text="The local day the timer started.")
    started_at = LocalTimeField(help_text="When the timer started, in the MSP's local time.")
    minutes = serializers.IntegerField(help_text="The elapsed time, rounded up to a whole minute.")
    work_type = serializers.IntegerField()
    notes = serializers.CharField()


class TimerStopSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(help_text="Elapsed whole minutes, rounded up (at least 1).")
    started_at = serializers.DateTimeField()
    crosses_midnight = serializers.BooleanField(
        help_text="The timer started on an earlier local day: ask the technician to confirm the minutes."
    )
    time_entry = TimerPrefillSerializer(help_text="Nothing is logged yet: post this to /api/v1/time-entries/.")


class VoidSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=500)


# ---------------------------------------------------------------------------
# Questioned charges


class QuestionSerializer(serializers.ModelSerializer):
    id = _public_id()
    time_entry = serializers.UUIDField(source="time_entry.public_id", read_only=True)
    client = serializers.UUIDField(source="time_entry.agreement.client.public_id", read_only=True)
    ticket_number = serializers.CharField(source="time_entry.ticket.number", read_only=True)
    work_date = serializers.DateField(source="time_entry.work_date", read_only=True)
    charged_minutes = serializers.IntegerField(
        source="time_entry.charged_minutes", read_only=True, help_text="What the questioned entry charged."
    )
    raised_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    correction = serializers.SerializerMethodField(
        help_text="The entry that replaced the questioned one (outcome corrected); null otherwise."
    )

    class Meta:
        model = ChargeQuestion
        fields = [
            "id",
            "time_entry",
            "client",
            "ticket_number",
            "work_date",
            "charged_minutes",
            "reason",
            "status",
            "reply",
            "credited_minutes",
            "correction",
            "raised_by",
            "resolved_by",
            "resolved_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_correction(self, question: ChargeQuestion) -> str | None:
        return str(question.correction.public_id) if question.correction_id else None


class QuestionCreateSerializer(serializers.Serializer):
    time_entry = PublicIdRelatedField(
        scope=time_entries_for_user,
        unknown=_("No time entry with id “%(id)s”."),
        help_text="The entry questioned: one of your client's, worked within QUESTION_WINDOW_DAYS.",
    )
    reason = StrictCharField(max_length=2000, help_text="What is wrong with the charge.")


class QuestionResolveSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=[QuestionStatus.EXPLAINED, QuestionStatus.CREDITED, QuestionStatus.CORRECTED],
        help_text="explained: a reply, nothing changes; credited: `minutes` given back; corrected: the entry "
        "corrected to `corrected_minutes` and/or `notes`.",
    )
    reply = StrictCharField(max_length=2000, help_text="What the client reads, in the email and on the entry.")
    minutes = BoundedIntegerField(
        minimum=1, maximum=MAX_ENTRY_MINUTES, required=False, help_text="Credited: at most the charged minutes."
    )
    corrected_minutes = BoundedIntegerField(
        minimum=1, maximum=MAX_ENTRY_MINUTES, required=False, help_text="Corrected: the time actually worked."
    )
    notes = StrictCharField(max_length=2000, required=False, help_text="Corrected: the entry's new notes.")

    def validate(self, data: dict) -> dict:
        if data["outcome"] == QuestionStatus.CREDITED and "minutes" not in data:
            raise serializers.ValidationError({"minutes": _("Give the minutes to credit.")})
        if data["outcome"] == QuestionStatus.CORRECTED and not ({"corrected_minutes", "notes"} & set(data)):
            raise serializers.ValidationError({"corrected_minutes": _("Give the corrected minutes or notes.")})
        return data


# ---------------------------------------------------------------------------
# Estimates


class EstimateSerializer(serializers.ModelSerializer):
    id = _public_id()
    ticket = serializers.UUIDField(source="ticket.public_id", read_only=True)
    ticket_number = serializers.CharField(source="ticket.number", read_only=True)
    client = serializers.UUIDField(source="agreement.client.public_id", read_only=True)
    agreement = serializers.UUIDField(
        source="agreement.public_id", read_only=True, help_text="The agreement the client's order chose."
    )
    work_type = serializers.PrimaryKeyRelatedField(read_only=True)
    charged_minutes = serializers.IntegerField(
        read_only=True, help_text="What the estimate would charge (rounding, minimum and multiplier)."
    )
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Null: automatic, or the emailed link."
    )

    class Meta:
        model = Estimate
        fields = [
            "id",
            "ticket",
            "ticket_number",
            "client",
            "agreement",
            "work_type",
            "minutes",
            "charged_minutes",
            "description",
            "status",
            "auto_approved",
            "created_by",
            "decided_by",
            "decided_at",
            "overrun_flagged_at",
            "created_at",
        ]
        read_only_fields = fields


class EstimateCreateSerializer(serializers.Serializer):
    ticket = PublicIdRelatedField(scope=tickets_for_user, unknown=_("No ticket with id “%(id)s”."))
    minutes = BoundedIntegerField(
        minimum=1, maximum=MAX_ENTRY_MINUTES * 30, help_text="The estimated work, in whole minutes."
    )
    work_type = StrictPrimaryKeyRelatedField(queryset=WorkType.objects.all())
    description = StrictCharField(max_length=300, validators=[validate_single_line])


class EstimateApproveSerializer(serializers.Serializer):
    tier = StrictPrimaryKeyRelatedField(
        queryset=Tier.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
        help_text="Buy a block as well: an hours request for this tier, staff send its invoice.",
    )


# ---------------------------------------------------------------------------
# The MSP's business-hours calendar (staff)


class BusinessHoursSerializer(serializers.ModelSerializer):
    opens = LocalTimeField(read_only=True, allow_null=True, help_text="The MSP's local time; null: closed.")
    closes = LocalTimeField(read_only=True, allow_null=True, help_text="The MSP's local time; null: closed.")
    weekday_name = serializers.CharField(source="get_weekday_display", read_only=True)

    class Meta:
        model = BusinessHours
        fields = ["weekday", "weekday_name", "opens", "closes"]
        read_only_fields = fields


class BusinessHoursUpdateSerializer(serializers.Serializer):
    opens = LocalTimeField(allow_null=True, help_text='"HH:MM", the MSP\'s local time; null with closes: closed.')
    closes = LocalTimeField(allow_null=True, help_text='"HH:MM", after opens; null with opens: closed.')


class HolidaySerializer(serializers.ModelSerializer):
    id = _public_id()

    class Meta:
        model = Holiday
        fields = ["id", "date", "name"]
        read_only_fields = fields


class HolidayCreateSerializer(serializers.Serializer):
    date = serializers.DateField()
    name = StrictCharField(max_length=100)


# ---------------------------------------------------------------------------
# Invoices and payments


class InvoiceLineSerializer(serializers.ModelSerializer):
    unit_price = MoneyField(read_only=True, help_text="Per hour; negative for a discount.")
    amount = MoneyField(read_only=True)

    class Meta:
        model = InvoiceLine
        fields = ["position", "description", "minutes", "unit_price", "amount"]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer):
    id = _public_id()
    client = serializers.UUIDField(source="client.public_id", read_only=True)
    agreement = serializers.UUIDField(source="agreement.public_id", read_only=True)
    block = serializers.SerializerMethodField()
    currency = serializers.CharField(**CURRENCY_FIELD)
    subtotal = MoneyField(read_only=True)
    tax_rate = serializers.DecimalField(max_digits=5, decimal_places=2, read_only=True, help_text="Percent.")
    tax_amount = MoneyField(read_only=True)
    total = MoneyField(read_only=True)
    amount_paid = MoneyField(read_only=True)
    amount_due = serializers.SerializerMethodField()
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "kind",
            "status",
            "client",
            "client_name",
            "agreement",
            "block",
            "overage_minutes",
            "issued_on",
            "due_on",
            "currency",
            "subtotal",
            "tax_rate",
            "tax_label",
            "tax_amount",
            "total",
            "amount_paid",
            "amount_due",
            "paid_at",
            "voided_at",
            "void_reason",
            "lines",
            "created_at",
        ]
        read_only_fields = fields

    def get_block(self, invoice: Invoice) -> str | None:
        return str(invoice.block.public_id) if invoice.block_id else None

    def get_amount_due(self, invoice: Invoice) -> str:
        # billing.selectors.invoice_amount_due's rule, on the annotated sum (no query per row).
        if invoice.status in (InvoiceStatus.PAID, InvoiceStatus.VOID):
            return "0.00"
        return f"{invoice.total - invoice.amount_paid:.2f}"


class CreditNoteLineSerializer(serializers.ModelSerializer):
    invoice = serializers.UUIDField(source="invoice.public_id", read_only=True, help_text="The invoice credited.")
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    invoice_issued_on = serializers.DateField(source="invoice.issued_on", read_only=True)
    unit_price = MoneyField(read_only=True, help_text="Per hour.")
    amount = MoneyField(read_only=True)

    class Meta:
        model = CreditNoteLine
        fields = [
            "position",
            "invoice",
            "invoice_number",
            "invoice_issued_on",
            "description",
            "minutes",
            "unit_price",
            "amount",
        ]
        read_only_fields = fields


class CreditNoteSerializer(serializers.ModelSerializer):
    id = _public_id()
    client = serializers.UUIDField(source="client.public_id", read_only=True)
    agreement = serializers.UUIDField(source="agreement.public_id", read_only=True)
    invoice = serializers.UUIDField(source="invoice.public_id", read_only=True, help_text="The invoice credited.")
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    block = serializers.UUIDField(source="block.public_id", read_only=True)
    currency = serializers.CharField(**CURRENCY_FIELD)
    subtotal = MoneyField(read_only=True)
    tax_rate = serializers.DecimalField(max_digits=5, decimal_places=2, read_only=True, help_text="Percent.")
    tax_amount = MoneyField(read_only=True)
    total = MoneyField(read_only=True)
    lines = CreditNoteLineSerializer(many=True, read_only=True)

    class Meta:
        model = CreditNote
        fields = [
            "id",
            "number",
            "client",
            "client_name",
            "agreement",
            "invoice",
            "invoice_number",
            "block",
            "minutes",
            "reason",
            "issued_on",
            "currency",
            "subtotal",
            "tax_rate",
            "tax_label",
            "tax_amount",
            "total",
            "lines",
            "created_at",
        ]
        read_only_fields = fields


class CancellationSerializer(serializers.Serializer):
    disposition = serializers.ChoiceField(
        choices=["refund", "forfeit"],
        help_text="refund: a credit note against each paid block's invoice; forfeit: no money back (breakage).",
    )
    reason = StrictCharField(max_length=400)


class BlockCancellationSerializer(CancellationSerializer):
    minutes = BoundedIntegerField(
        minimum=1,
        maximum=MAX_BLOCK_MINUTES,
        required=False,
        allow_null=True,
        help_text="Unused minutes to refund or forfeit; omit for all of them.",
    )


class CancellationResultSerializer(serializers.Serializer):
    agreement_status = serializers.CharField(source="agreement.status")
    changed = serializers.BooleanField(help_text="False when a repeat found nothing left to do.")
    refunded_minutes = serializers.IntegerField()
    forfeited_minutes = serializers.IntegerField()
    credit_notes = CreditNoteSerializer(many=True)
    balance_minutes = serializers.IntegerField()


class PaymentSerializer(serializers.ModelSerializer):
    amount = MoneyField(read_only=True)
    currency = serializers.CharField(source="invoice.currency", **CURRENCY_FIELD)
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Payment
        fields = ["method", "reference", "amount", "currency", "paid_on", "recorded_by", "created_at"]
        read_only_fields = fields


class PaymentCreateSerializer(serializers.Serializer):
    amount = AmountInputField()
    method = serializers.ChoiceField(PaymentMethod.choices)
    reference = StrictCharField(max_length=100, help_text="ACH trace, card transaction id, cheque number…")
    paid_on = serializers.DateField()


class ReloadDiscardSerializer(serializers.Serializer):
    reason = StrictCharField(
        max_length=500, required=False, allow_blank=True, help_text="Kept with the voided draft (optional)."
    )


# ---------------------------------------------------------------------------
# Tokens


class ApiTokenSerializer(serializers.ModelSerializer):
    id = _public_id()
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "user", "prefix", "is_active", "created_at", "created_by", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once: store it now, it cannot be read again.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    user = StrictSlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True))
    name = StrictCharField(max_length=100)
