"""Clients, their block-time agreements, and the hours ledger at the core.

Models hold data and database-level invariants only; every change to a
balance goes through agreements.services, which locks the agreement row.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.validators import validate_single_line

MONEY = {"max_digits": 12, "decimal_places": 2}


def default_currency() -> str:
    return settings.DEFAULT_CURRENCY


def default_language() -> str:
    return settings.LANGUAGE_CODE


class Client(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    name = models.CharField(max_length=200, unique=True, validators=[validate_single_line], verbose_name=_("name"))
    billing_name = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_single_line],
        help_text=_("Name on invoices, if not the client's name."),
        verbose_name=_("billing name"),
    )
    billing_address = models.TextField(blank=True, verbose_name=_("billing address"))
    billing_email = models.EmailField(
        blank=True, help_text=_("Accounts-payable address that receives invoices."), verbose_name=_("billing email")
    )
    hourly_rate = models.DecimalField(
        **MONEY, default=Decimal("100.00"), validators=[MinValueValidator(Decimal("0"))], verbose_name=_("hourly rate")
    )
    currency = models.CharField(max_length=3, default=default_currency, verbose_name=_("currency"))
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default=default_language,
        help_text=_("Language of this client's invoices, statements and emails."),
    )
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(hourly_rate__gte=0), name="client_rate_not_negative"),
            models.UniqueConstraint(Lower("name"), name="client_name_unique_ignoring_case"),
        ]

    def __str__(self) -> str:
        return self.name


class ClientContact(models.Model):
    """Ties a user with the client role to exactly one client."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_contact", verbose_name=_("user")
    )
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("client"))
    receives_invoices = models.BooleanField(
        default=True,
        help_text=_("Billing contact: receives invoices and low-balance notices."),
        verbose_name=_("receives invoices"),
    )

    class Meta:
        verbose_name = _("client contact")
        verbose_name_plural = _("client contacts")

    def __str__(self) -> str:
        return f"{self.user} ({self.client})"


class Tier(models.Model):
    """A block size on sale, with its per-hour discount off the client's rate."""

    name = models.CharField(max_length=100, unique=True, validators=[validate_single_line], verbose_name=_("name"))
    hours = models.PositiveIntegerField(validators=[MinValueValidator(1)], verbose_name=_("hours"))
    discount_per_hour = models.DecimalField(
        **MONEY,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0"))],
        verbose_name=_("discount per hour"),
    )
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["hours"]
        constraints = [
            models.CheckConstraint(condition=Q(hours__gt=0), name="tier_hours_positive"),
            models.CheckConstraint(condition=Q(discount_per_hour__gte=0), name="tier_discount_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def minutes(self) -> int:
        return self.hours * 60


class WorkType(models.Model):
    """Normal, after-hours, emergency, non-billable... a multiplier on charged time."""

    name = models.CharField(max_length=100, unique=True, validators=[validate_single_line], verbose_name=_("name"))
    multiplier = models.DecimalField(
        max_digits=4, decimal_places=2, validators=[MinValueValidator(Decimal("0"))], verbose_name=_("multiplier")
    )
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    is_after_hours = models.BooleanField(
        default=False,
        help_text=_("The rate of time worked outside business hours (entries with a start time). One at most."),
        verbose_name=_("after-hours rate"),
    )

    class Meta:
        verbose_name = _("work type")
        verbose_name_plural = _("work types")
        ordering = ["multiplier", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(multiplier__gte=0), name="worktype_multiplier_not_negative"),
            # Which rate the calendar's after-hours part takes is never a tie.
            models.UniqueConstraint(
                fields=["is_after_hours"],
                condition=Q(is_after_hours=True) & Q(is_active=True),
                name="worktype_one_active_after_hours",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.multiplier}×)"


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class BusinessHours(models.Model):
    """The MSP's opening hours on one weekday, in its local time
    (settings.TIME_ZONE). A weekday without hours is closed: time worked then
    is after-hours (unless an agreement says otherwise)."""

    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, unique=True, verbose_name=_("weekday"))
    opens = models.TimeField(
        null=True, blank=True, help_text=_("Local time of the MSP; empty: closed."), verbose_name=_("opens")
    )
    closes = models.TimeField(
        null=True, blank=True, help_text=_("Local time of the MSP; empty: closed."), verbose_name=_("closes")
    )

    class Meta:
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")
        ordering = ["weekday"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__range=(0, 6)), name="businesshours_weekday_valid"),
            models.CheckConstraint(
                condition=(Q(opens__isnull=True) & Q(closes__isnull=True))
                | (Q(opens__isnull=False) & Q(closes__isnull=False) & Q(closes__gt=F("opens"))),
                name="businesshours_open_before_close",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_weekday_display()} {self.opens}–{self.closes}"
            if self.opens
            else str(self.get_weekday_display())
        )

    @property
    def is_closed(self) -> bool:
        return self.opens is None


class Holiday(models.Model):
    """A day the MSP is closed: time worked on it is after-hours (unless an agreement says otherwise)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    date = models.DateField(unique=True, verbose_name=_("date"))
    name = models.CharField(max_length=100, validators=[validate_single_line], verbose_name=_("name"))

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class RoundingMode(models.TextChoices):
    UP = "up", _("Round up")
    NEAREST = "nearest", _("Round to nearest")
    DOWN = "down", _("Round down")


class OveragePolicy(models.TextChoices):
    REJECT = "reject", _("Reject time beyond the balance")
    ALLOW_NEGATIVE = "allow_negative", _("Allow a negative balance down to a limit")
    BILL_OVERAGE = "bill_overage", _("Allow, and bill overage at the hourly rate")


class CreditPolicy(models.TextChoices):
    ON_PAYMENT = "on_payment", _("Hours usable when the block is paid")
    IMMEDIATE = "immediate", _("Hours usable at once")


class TopupMode(models.TextChoices):
    """What the low-balance sweep does, once per episode, when an agreement falls to its threshold."""

    CHARGE = "charge", _("Charge the payment method on file: hours added at once")
    ISSUE = "issue", _("Issue the reload invoice and email it")
    DRAFT = "draft", _("Draft a reload invoice for staff to review")
    NOTIFY = "notify", _("Only tell staff and the client; sell nothing")


class AgreementStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended")


class TermEndAction(models.TextChoices):
    END = "end", _("End the agreement; unused hours expire")
    RENEW = "renew", _("Renew for another term of the same length")


class RolloverPolicy(models.TextChoices):
    NONE = "none", _("No rollover: unused hours expire")
    ALL = "all", _("Roll over all unused hours")
    CAPPED_HOURS = "capped_hours", _("Roll over up to a number of hours")
    CAPPED_PERCENT = "capped_percent", _("Roll over up to a share of the renewal block")


class BurnOrder(models.TextChoices):
    """Which block pays first (agreements.domain.in_burn_order)."""

    OLDEST_FIRST = "oldest_first", _("Oldest block first")
    SOONEST_EXPIRING_FIRST = "soonest_expiring_first", _("Soonest-expiring block first")


MAX_ROLLOVER_GRACE_MONTHS = 24
MAX_GRACE_DAYS = 90
MAX_RENEWAL_INVOICE_DAYS = 180


class Agreement(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="agreements", verbose_name=_("client"))
    name = models.CharField(
        max_length=200,
        default="Prepaid support hours",
        validators=[validate_single_line],
        verbose_name=_("name"),
    )
    status = models.CharField(
        max_length=16, choices=AgreementStatus.choices, default=AgreementStatus.ACTIVE, verbose_name=_("status")
    )
    starts_on = models.DateField(default=timezone.localdate, verbose_name=_("starts on"))
    ends_on = models.DateField(
        null=True,
        blank=True,
        help_text=_("Leave empty for an agreement that never expires."),
        verbose_name=_("ends on"),
    )
    low_balance_threshold_minutes = models.PositiveIntegerField(
        default=120, verbose_name=_("low balance threshold minutes")
    )
    billing_increment_minutes = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(1)], verbose_name=_("billing increment minutes")
    )
    rounding_mode = models.CharField(
        max_length=16, choices=RoundingMode.choices, default=RoundingMode.UP, verbose_name=_("rounding mode")
    )
    minimum_billable_minutes = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(24 * 60)],
        help_text=_("Each entry charges at least this much, after rounding; 0: no minimum. Zero-rate work stays 0."),
        verbose_name=_("minimum billable minutes"),
    )
    weekends_holidays_after_hours = models.BooleanField(
        default=True,
        help_text=_("Time worked on closed weekdays and holidays is after-hours; off: it counts as normal time."),
        verbose_name=_("weekends and holidays are after-hours"),
    )
    overage_policy = models.CharField(
        max_length=16, choices=OveragePolicy.choices, default=OveragePolicy.REJECT, verbose_name=_("overage policy")
    )
    overage_limit_minutes = models.PositiveIntegerField(
        default=0,
        help_text=_("How far below zero the balance may go (allow-negative policy)."),
        verbose_name=_("overage limit minutes"),
    )
    overage_rate = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Hourly rate for overage (bill-overage policy); empty: the client's hourly rate."),
        verbose_name=_("overage rate"),
    )
    credit_policy = models.CharField(
        max_length=16, choices=CreditPolicy.choices, default=CreditPolicy.ON_PAYMENT, verbose_name=_("credit policy")
    )
    # Until payments exist, "charge" adds the reload block's hours at once,
    # before its invoice is paid (what auto-reload did).
    topup_mode = models.CharField(
        max_length=8,
        choices=TopupMode.choices,
        default=TopupMode.ISSUE,
        help_text=_("What happens when the balance falls to the threshold."),
        verbose_name=_("when the balance is low"),
    )
    reload_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("reload tier")
    )
    usage_alert_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text=_("Optional early notice when this share of the latest block is used (e.g. 80)."),
        verbose_name=_("usage alert percent"),
    )
    work_types = models.ManyToManyField(
        WorkType,
        blank=True,
        help_text=_("Work types this agreement covers; empty means all."),
        verbose_name=_("work types"),
    )
    # Where the agreement stands in its client's order: a time entry logged for
    # the client, not for one agreement, goes to the first (lowest) agreement
    # that covers its work type and can take it. Set by agreements.services.
    position = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_("Order in which the client's agreements take time logged for the client: 1 first."),
        verbose_name=_("position"),
    )
    # What happens at the end of the term (agreements.services.renewals).
    term_end_action = models.CharField(
        max_length=8,
        choices=TermEndAction.choices,
        default=TermEndAction.END,
        help_text=_("Only for an agreement with an end date."),
        verbose_name=_("at the end of the term"),
    )
    renewal_tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The block sold for each new term (renewing agreements)."),
        verbose_name=_("renewal tier"),
    )
    renewal_invoice_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_RENEWAL_INVOICE_DAYS)],
        help_text=_("The renewal invoice is issued and emailed this many days before the end (renewing agreements)."),
        verbose_name=_("renewal invoice days before the end"),
    )
    rollover_policy = models.CharField(
        max_length=16,
        choices=RolloverPolicy.choices,
        default=RolloverPolicy.NONE,
        help_text=_("What happens to unused hours when the term renews."),
        verbose_name=_("rollover of unused hours"),
    )
    rollover_cap_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("At most this many minutes roll over (capped-hours rollover)."),
        verbose_name=_("rollover cap (minutes)"),
    )
    rollover_cap_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("At most this share of the renewal block's hours roll over (capped-share rollover)."),
        verbose_name=_("rollover cap (percent)"),
    )
    rollover_grace_months = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_ROLLOVER_GRACE_MONTHS)],
        help_text=_("Rolled-over hours expire this many months after the renewal; 0: with the new term."),
        verbose_name=_("rollover grace (months)"),
    )
    grace_days = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_GRACE_DAYS)],
        help_text=_("Time worked this many days after the end still draws on the term's hours."),
        verbose_name=_("grace days after the end"),
    )
    burn_order = models.CharField(
        max_length=24,
        choices=BurnOrder.choices,
        default=BurnOrder.OLDEST_FIRST,
        help_text=_("Which block's hours time is taken from first."),
        verbose_name=_("burn order"),
    )
    # Cached sum of the ledger, written only by agreements.services under the
    # agreement's row lock; tests check it against the ledger after every call.
    balance_minutes = models.IntegerField(default=0, editable=False, verbose_name=_("balance minutes"))
    # Whether the client has had hours to use (agreements.selectors.has_bought_hours:
    # a credited block not cancelled, or hours granted by an adjustment), kept on
    # the row for the low-balance sweep's partial index. Written only by
    # agreements.services under the agreement's row lock, with the ledger entry
    # that makes it true; tests check it against the recount after every call.
    has_had_hours = models.BooleanField(default=False, editable=False, verbose_name=_("has had hours"))
    # Cached burn (agreements.runway): the charged minutes of the time entries
    # not void worked in the 8-week window ending on `burn_computed_on`. Written
    # by the time-entry services under the agreement's row lock and recounted
    # nightly (the window slides); a row computed for another day is not used.
    burn_minutes = models.IntegerField(default=0, editable=False, verbose_name=_("burn minutes"))
    burn_computed_on = models.DateField(null=True, editable=False, verbose_name=_("burn computed on"))
    # The runway blind to expiry, from the two caches (whole days; None: no
    # burn), as agreements.runway.with_runway computes it: indexed, so a list
    # ranked by runway reads its first page without computing every row's.
    plain_runway_days = models.GeneratedField(
        expression=Case(
            When(burn_minutes__lte=0, then=Value(None)),
            When(balance_minutes__lte=0, then=Value(0)),
            default=F("balance_minutes") * Value(56) / F("burn_minutes"),
            output_field=models.IntegerField(),
        ),
        output_field=models.IntegerField(null=True),
        db_persist=True,
        verbose_name=_("plain runway days"),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")
        ordering = ["client__name", "position"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                name="agreement_term_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(billing_increment_minutes__gte=1),
                name="agreement_increment_positive",
            ),
            models.CheckConstraint(
                condition=Q(minimum_billable_minutes__range=(0, 24 * 60)),
                name="agreement_minimum_within_a_day",
            ),
            models.CheckConstraint(
                condition=Q(rounding_mode__in=RoundingMode.values),
                name="agreement_rounding_mode_valid",
            ),
            models.CheckConstraint(
                condition=Q(overage_policy__in=OveragePolicy.values),
                name="agreement_overage_policy_valid",
            ),
            models.CheckConstraint(
                condition=Q(credit_policy__in=CreditPolicy.values),
                name="agreement_credit_policy_valid",
            ),
            models.CheckConstraint(
                condition=Q(usage_alert_percent__isnull=True) | Q(usage_alert_percent__range=(1, 99)),
                name="agreement_usage_alert_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(overage_rate__isnull=True) | Q(overage_rate__gte=0),
                name="agreement_overage_rate_not_negative",
            ),
            models.CheckConstraint(condition=Q(topup_mode__in=TopupMode.values), name="agreement_topup_mode_valid"),
            models.CheckConstraint(
                condition=~Q(topup_mode=TopupMode.CHARGE) | Q(reload_tier__isnull=False),
                name="agreement_charge_needs_tier",
                violation_error_message=_("Charging the payment method on file needs a reload tier."),
            ),
            # One agreement per place in a client's order: "the first one" is never a tie.
            models.UniqueConstraint(fields=["client", "position"], name="agreement_unique_position_per_client"),
            models.CheckConstraint(condition=Q(position__gte=1), name="agreement_position_positive"),
            models.CheckConstraint(
                condition=Q(term_end_action__in=TermEndAction.values), name="agreement_term_end_action_valid"
            ),
            # A renewing agreement has a term to renew, a block to sell and a day to invoice it;
            # an ending one has none of the renewal settings (nothing would read them).
            models.CheckConstraint(
                condition=(
                    Q(term_end_action=TermEndAction.RENEW)
                    & Q(ends_on__isnull=False)
                    & Q(renewal_tier__isnull=False)
                    & Q(renewal_invoice_days__isnull=False)
                )
                | (
                    Q(term_end_action=TermEndAction.END)
                    & Q(renewal_tier__isnull=True)
                    & Q(renewal_invoice_days__isnull=True)
                    & Q(rollover_policy=RolloverPolicy.NONE)
                ),
                name="agreement_renewal_settings_match_action",
            ),
            models.CheckConstraint(
                condition=Q(rollover_policy__in=RolloverPolicy.values), name="agreement_rollover_policy_valid"
            ),
            models.CheckConstraint(
                condition=(Q(rollover_policy=RolloverPolicy.CAPPED_HOURS) & Q(rollover_cap_minutes__gt=0))
                | (~Q(rollover_policy=RolloverPolicy.CAPPED_HOURS) & Q(rollover_cap_minutes__isnull=True)),
                name="agreement_rollover_cap_minutes_with_policy",
            ),
            models.CheckConstraint(
                condition=(Q(rollover_policy=RolloverPolicy.CAPPED_PERCENT) & Q(rollover_cap_percent__range=(1, 100)))
                | (~Q(rollover_policy=RolloverPolicy.CAPPED_PERCENT) & Q(rollover_cap_percent__isnull=True)),
                name="agreement_rollover_cap_percent_with_policy",
            ),
            models.CheckConstraint(
                condition=Q(rollover_grace_months=0) | ~Q(rollover_policy=RolloverPolicy.NONE),
                name="agreement_rollover_grace_needs_rollover",
            ),
            models.CheckConstraint(
                condition=Q(grace_days=0) | Q(ends_on__isnull=False), name="agreement_grace_days_need_an_end"
            ),
            models.CheckConstraint(condition=Q(burn_order__in=BurnOrder.values), name="agreement_burn_order_valid"),
        ]
        indexes = [
            # Under the low-balance sweep: only active agreements that have had
            # hours and are at or below their threshold are in it, so the sweep
            # never scans the rest nor looks for their credited blocks.
            models.Index(
                fields=["balance_minutes"],
                condition=Q(status=AgreementStatus.ACTIVE)
                & Q(has_had_hours=True)
                & Q(balance_minutes__lte=F("low_balance_threshold_minutes")),
                name="agreement_low_balance_idx",
            ),
            # The dashboard's default order (agreements.runway.RunwayRanking) and the
            # search for burn figures left from an earlier day (runway.burn_refresh_stale).
            models.Index(fields=["plain_runway_days"], name="agreement_runway_idx"),
            models.Index(fields=["burn_computed_on"], name="agreement_burn_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.client} — {self.name}"

    @property
    def currency(self) -> str:
        return self.client.currency


class Block(models.Model):
    """One purchase of hours under an agreement."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="blocks", verbose_name=_("agreement")
    )
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("tier"))
    minutes = models.PositiveIntegerField(verbose_name=_("minutes"))
    rate = models.DecimalField(**MONEY, help_text=_("Price per hour after any discount."), verbose_name=_("rate"))
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    starts_on = models.DateField(default=timezone.localdate, verbose_name=_("starts on"))
    expires_on = models.DateField(null=True, blank=True, verbose_name=_("expires on"))
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paid at"))
    # Set when the sale is cancelled (its invoice voided): never credited after that.
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("cancelled at"))
    # Cached sum of the ledger entries of this block (its unused minutes),
    # written only by agreements.services under the agreement's row lock.
    minutes_left = models.IntegerField(default=0, editable=False, verbose_name=_("minutes left"))
    # Set once, when the purchase credit is written to the ledger.
    credited_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("credited at"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    # A carry-over block: unused hours of `rolled_over_from` moved into the
    # next term by a rollover entry. It keeps that block's rate (the hours stay
    # deferred at what the client paid) and start (so they are used first), and
    # has no amount of its own: nothing was sold.
    rolled_over_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="rolled_over_into",
        verbose_name=_("rolled over from"),
    )
    # Free hours staff granted (agreements.services.block_grant_goodwill): no
    # rate, no amount, no invoice; nothing to pay and nothing to refund.
    is_goodwill = models.BooleanField(default=False, editable=False, verbose_name=_("goodwill"))
    # Unused hours of `moved_from` (another agreement of the same client) moved
    # here at that block's rate (agreements.services.block_hours_move). Its
    # amount is what those hours are worth; they were bought on the source's invoice.
    moved_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="moved_into",
        verbose_name=_("moved from"),
    )

    class Meta:
        verbose_name = _("block")
        verbose_name_plural = _("blocks")
        ordering = ["starts_on", "created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(minutes__gt=0), name="block_minutes_positive"),
            # Consumption, in either burn order, never overdraws a block nor fills it twice.
            models.CheckConstraint(
                condition=Q(minutes_left__gte=0) & Q(minutes_left__lte=F("minutes")), name="block_minutes_left_in_range"
            ),
            models.CheckConstraint(condition=Q(rate__gte=0), name="block_rate_not_negative"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="block_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gte=F("starts_on")),
                name="block_expires_after_start",
            ),
            models.CheckConstraint(
                condition=Q(rolled_over_from__isnull=True) | (Q(amount=0) & Q(tier__isnull=True)),
                name="block_carry_over_sold_nothing",
            ),
            models.CheckConstraint(
                condition=Q(is_goodwill=False) | (Q(rate=0) & Q(amount=0) & Q(tier__isnull=True)),
                name="block_goodwill_is_free",
            ),
            models.CheckConstraint(
                condition=Q(moved_from__isnull=True) | (Q(tier__isnull=True) & Q(rolled_over_from__isnull=True)),
                name="block_moved_sold_nothing",
            ),
        ]
        indexes = [
            # The sweep's "hours on the way" test (selectors.has_hours_on_the_way):
            # only blocks awaiting payment, a handful, so the anti-join probes this
            # instead of reading every block.
            models.Index(
                fields=["agreement"],
                condition=Q(credited_at__isnull=True, cancelled_at__isnull=True),
                name="block_on_the_way_idx",
            ),
            # The agreements whose runway needs their blocks (agreements.runway.RunwayRanking).
            models.Index(
                fields=["agreement"],
                condition=Q(minutes_left__gt=0) & Q(expires_on__isnull=False),
                name="block_expiring_left_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.minutes // 60} h block for {self.agreement}"

    @property
    def hours(self) -> Decimal:
        return Decimal(self.minutes) / 60

    @property
    def is_paid(self) -> bool:
        return self.paid_at is not None


class TicketStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Ticket(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("client"))
    number = models.CharField(max_length=64, validators=[validate_single_line], verbose_name=_("number"))
    subject = models.CharField(max_length=300, validators=[validate_single_line], verbose_name=_("subject"))
    status = models.CharField(
        max_length=16, choices=TicketStatus.choices, default=TicketStatus.OPEN, verbose_name=_("status")
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["client", "number"], name="ticket_number_unique_per_client"),
        ]
        # The API's ticket list, newest first: 50 rows read in order instead of every ticket sorted.
        indexes = [models.Index(fields=["-created_at", "-id"], name="ticket_list_order_idx")]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"


class TimeEntry(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="time_entries", verbose_name=_("agreement")
    )
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="time_entries", verbose_name=_("ticket"))
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="time_entries", verbose_name=_("technician")
    )
    work_date = models.DateField(verbose_name=_("work date"))
    started_at = models.TimeField(
        null=True,
        blank=True,
        help_text=_("When the work started, in the MSP's local time; the part outside business hours is after-hours."),
        verbose_name=_("started at"),
    )
    minutes = models.PositiveIntegerField(help_text=_("Time worked, as logged."), verbose_name=_("minutes"))
    work_type = models.ForeignKey(WorkType, on_delete=models.PROTECT, verbose_name=_("work type"))
    charged_minutes = models.PositiveIntegerField(
        help_text=_("Minutes deducted after rounding and the work-type multiplier."),
        verbose_name=_("charged minutes"),
    )
    # The part outside business hours (entries with a start time): its
    # minutes after rounding, and what it charged at the after-hours rate.
    # The rest of charged_minutes is the business-hours part.
    after_hours_minutes = models.PositiveIntegerField(default=0, verbose_name=_("after-hours minutes"))
    after_hours_charged_minutes = models.PositiveIntegerField(default=0, verbose_name=_("after-hours charged minutes"))
    notes = models.TextField(blank=True, verbose_name=_("notes"))
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, verbose_name=_("idempotency key"))  # noqa: DJ001 - NULL: no key, ignored by the unique constraint
    corrects = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrected_by",
        help_text=_("The voided entry this one replaces."),
        verbose_name=_("corrects"),
    )
    voided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("voided at"))
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("voided by"),
    )
    void_reason = models.CharField(
        max_length=500, blank=True, validators=[validate_single_line], verbose_name=_("void reason")
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))

    class Meta:
        ordering = ["-work_date", "-created_at"]
        verbose_name = _("time entry")
        verbose_name_plural = _("time entries")
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes__gt=0) & Q(minutes__lte=24 * 60),
                name="timeentry_minutes_within_a_day",
            ),
            models.CheckConstraint(
                condition=Q(after_hours_charged_minutes__lte=F("charged_minutes"))
                & (Q(started_at__isnull=False) | (Q(after_hours_minutes=0) & Q(after_hours_charged_minutes=0))),
                name="timeentry_after_hours_part_of_charge",
            ),
            # A retried request carries the same key: the database refuses a
            # second entry even if two retries race past the service's check.
            models.UniqueConstraint(
                fields=["technician", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="timeentry_idempotency_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["agreement", "work_date"], name="timeentry_agreement_date_idx"),
            # The API's time-entry list: its first page read in order instead of every joined row sorted.
            models.Index(fields=["-work_date", "-created_at", "-id"], name="timeentry_list_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.minutes} min on {self.ticket} by {self.technician}"

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None

    @property
    def is_split(self) -> bool:
        """Charged in two parts: some of it fell outside business hours."""
        return self.after_hours_minutes > 0

    @property
    def business_charged_minutes(self) -> int:
        return self.charged_minutes - self.after_hours_charged_minutes


class Timer(models.Model):
    """A technician's running timer on a ticket. It lives on the server, so it
    survives a reload and a change of device; stopping it only prefills the
    time form: nothing is charged until the technician saves the entry."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("technician")
    )
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", verbose_name=_("client"))
    # None: the client's agreements take the time in their order, as in the time form.
    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("agreement")
    )
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+", verbose_name=_("ticket"))
    work_type = models.ForeignKey(WorkType, on_delete=models.PROTECT, related_name="+", verbose_name=_("work type"))
    notes = models.TextField(blank=True, verbose_name=_("notes"))
    started_at = models.DateTimeField(default=timezone.now, verbose_name=_("started at"))

    class Meta:
        verbose_name = _("timer")
        verbose_name_plural = _("timers")
        ordering = ["started_at"]
        constraints = [
            # One timer per technician: the database settles two starts racing each other.
            models.UniqueConstraint(fields=["technician"], name="timer_one_per_technician"),
        ]

    def __str__(self) -> str:
        return f"timer on {self.ticket} by {self.technician}"


class LedgerKind(models.TextChoices):
    PURCHASE = "purchase", _("Block purchase")
    DEBIT = "debit", _("Time entry")
    REVERSAL = "reversal", _("Time entry reversal")
    ADJUSTMENT = "adjustment", _("Manual adjustment")
    EXPIRY = "expiry", _("Expiry")
    SETTLEMENT = "settlement", _("Overage settled by a new block")
    OVERAGE_BILLED = "overage_billed", _("Overage billed on an invoice")
    CANCELLATION = "cancellation", _("Block sale cancelled")
    ROLLOVER = "rollover", _("Unused hours rolled over")
    # Unused hours of a paid block given back as money (a credit note) or
    # given up (breakage), when a block or its agreement is cancelled.
    REFUND = "refund", _("Unused hours refunded")
    FORFEIT = "forfeit", _("Unused hours forfeited")
    # A block's expiry date moved by staff: no minutes, the dates and reason in the entry.
    EXPIRY_CHANGE = "expiry_change", _("Expiry date changed")
    # Free hours granted by staff, credited to their goodwill block.
    GOODWILL = "goodwill", _("Goodwill hours granted")
    # Unused hours moved between two agreements of a client: taken from a
    # block of one (MOVE_OUT) and credited to a new block of the other (MOVE_IN).
    MOVE_OUT = "move_out", _("Unused hours moved out")
    MOVE_IN = "move_in", _("Unused hours moved in")
    # Hours a client had left before the MSP adopted Blockhours, brought over
    # by an import (imports app) at the rate they were paid at: credited to a
    # block of their own, already paid, never invoiced here.
    OPENING_BALANCE = "opening_balance", _("Opening balance")
    # Minutes of a questioned time entry given back by staff; names its question.
    QUESTION_CREDIT = "question_credit", _("Credited after a question")
    # Hours of a block credited before payment, taken back when its bank debit
    # failed (a CANCELLATION on a sale that stands), given back once it is paid.
    REINSTATED = "reinstated", _("Hours given back once paid")


class LedgerQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise TypeError("Ledger entries are immutable: write a correcting entry instead.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Ledger entries are never deleted: write a correcting entry instead.")


class LedgerEntry(models.Model):
    """One immutable change to an agreement's balance, in signed minutes.

    `block` says which purchase the minutes came from or went to; entries
    without a block (adjustments, time beyond every block) form the
    agreement's unallocated pool. The balance is the sum of every entry.
    """

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="ledger", verbose_name=_("agreement")
    )
    block = models.ForeignKey(
        Block, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger", verbose_name=_("block")
    )
    kind = models.CharField(max_length=16, choices=LedgerKind.choices, verbose_name=_("kind"))
    minutes = models.IntegerField(verbose_name=_("minutes"))
    time_entry = models.ForeignKey(
        TimeEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger", verbose_name=_("time entry")
    )
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by", verbose_name=_("reverses")
    )
    reason = models.CharField(max_length=500, blank=True, validators=[validate_single_line], verbose_name=_("reason"))
    question = models.ForeignKey(
        "ChargeQuestion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger",
        verbose_name=_("question"),
    )
    # A time entry's debit (or its reversal) for the part worked outside business hours.
    after_hours = models.BooleanField(default=False, verbose_name=_("after hours"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))

    objects = LedgerQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            # Only an expiry change, which moves a date and no minutes, records 0; it always names its block.
            models.CheckConstraint(
                condition=(~Q(minutes=0) & ~Q(kind=LedgerKind.EXPIRY_CHANGE))
                | (Q(minutes=0) & Q(kind=LedgerKind.EXPIRY_CHANGE) & Q(block__isnull=False) & ~Q(reason="")),
                name="ledger_zero_minutes_only_for_expiry_change",
            ),
            models.CheckConstraint(condition=Q(kind__in=LedgerKind.values), name="ledger_kind_valid"),
            models.CheckConstraint(
                condition=~Q(kind=LedgerKind.PURCHASE) | (Q(minutes__gt=0) & Q(block__isnull=False)),
                name="ledger_purchase_credits_a_block",
            ),
            models.CheckConstraint(
                condition=~Q(
                    kind__in=[
                        LedgerKind.DEBIT,
                        LedgerKind.EXPIRY,
                        LedgerKind.CANCELLATION,
                        LedgerKind.REFUND,
                        LedgerKind.FORFEIT,
                        LedgerKind.MOVE_OUT,
                    ]
                )
                | Q(minutes__lt=0),
                name="ledger_debits_negative",
            ),
            # Granted or moved hours are a block's hours, credited, and always say why.
            models.CheckConstraint(
                condition=~Q(kind__in=[LedgerKind.GOODWILL, LedgerKind.MOVE_IN])
                | (Q(minutes__gt=0) & Q(block__isnull=False) & ~Q(reason="")),
                name="ledger_goodwill_move_in_credit_a_block",
            ),
            models.CheckConstraint(
                condition=~Q(kind=LedgerKind.MOVE_OUT) | (Q(block__isnull=False) & ~Q(reason="")),
                name="ledger_move_out_from_a_block",
            ),
            # Refunded or forfeited hours are a block's hours, and always say why.
            models.CheckConstraint(
                condition=~Q(kind__in=[LedgerKind.REFUND, LedgerKind.FORFEIT])
                | (Q(block__isnull=False) & ~Q(reason="")),
                name="ledger_refund_forfeit_block_reason",
            ),
            models.CheckConstraint(
                condition=~Q(kind=LedgerKind.OVERAGE_BILLED) | (Q(minutes__gt=0) & Q(block__isnull=True)),
                name="ledger_overage_billed_credits_the_pool",
            ),
            # A rollover moves minutes from one block to another: never into or out of the pool.
            models.CheckConstraint(
                condition=~Q(kind=LedgerKind.ROLLOVER) | Q(block__isnull=False),
                name="ledger_rollover_moves_between_blocks",
            ),
            models.CheckConstraint(
                condition=~Q(kind=LedgerKind.ADJUSTMENT) | ~Q(reason=""),
                name="ledger_adjustment_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(kind=LedgerKind.OPENING_BALANCE) | (Q(minutes__gt=0) & Q(block__isnull=False)),
                name="ledger_opening_balance_credits_a_block",
            ),
            # One opening balance per agreement: importing the same file twice cannot bring it over twice.
            models.UniqueConstraint(
                fields=["agreement"],
                condition=Q(kind=LedgerKind.OPENING_BALANCE),
                name="ledger_one_opening_balance_per_agreement",
            ),
            # A question's credit goes to the pool, names its question, and is written once.
            models.CheckConstraint(
                condition=~Q(kind=LedgerKind.QUESTION_CREDIT)
                | (Q(minutes__gt=0) & Q(block__isnull=True) & Q(question__isnull=False)),
                name="ledger_question_credit_names_question",
            ),
            models.UniqueConstraint(
                fields=["question"],
                condition=Q(kind=LedgerKind.QUESTION_CREDIT),
                name="ledger_one_credit_per_question",
            ),
            models.CheckConstraint(
                condition=~Q(kind=LedgerKind.REINSTATED) | (Q(minutes__gt=0) & Q(block__isnull=False)),
                name="ledger_reinstated_credits_a_block",
            ),
            # A block is credited once, whatever retries or double clicks happen.
            models.UniqueConstraint(
                fields=["block"],
                condition=Q(kind=LedgerKind.PURCHASE),
                name="ledger_one_purchase_credit_per_block",
            ),
        ]
        indexes = [models.Index(fields=["agreement", "created_at"], name="ledger_agreement_time_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.minutes:+d} min"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not self._state.adding:
            raise TypeError("Ledger entries are immutable: write a correcting entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise TypeError("Ledger entries are never deleted: write a correcting entry instead.")


class Renewal(models.Model):
    """One term end of a renewing agreement, handled once.

    Created (under the agreement's row lock) when the renewal block is sold,
    `renewal_invoice_days` before the end; the unique (agreement, term end)
    makes a second run, or two at once, find it instead of selling again.
    `renewed_at` is set when the term moved on and the old hours rolled over
    or expired, in the same transaction.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="renewals", verbose_name=_("agreement")
    )
    term_starts_on = models.DateField(verbose_name=_("term starts on"))
    term_ends_on = models.DateField(verbose_name=_("term ends on"))
    new_term_ends_on = models.DateField(verbose_name=_("new term ends on"))
    block = models.OneToOneField(
        Block, on_delete=models.PROTECT, related_name="renewal", verbose_name=_("renewal block")
    )
    rolled_over_minutes = models.PositiveIntegerField(default=0, verbose_name=_("rolled over minutes"))
    expired_minutes = models.PositiveIntegerField(default=0, verbose_name=_("expired minutes"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))
    renewed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("renewed at"))

    class Meta:
        verbose_name = _("renewal")
        verbose_name_plural = _("renewals")
        ordering = ["agreement", "term_ends_on"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "term_ends_on"], name="renewal_once_per_term"),
            models.CheckConstraint(
                condition=Q(term_ends_on__gte=F("term_starts_on")) & Q(new_term_ends_on__gt=F("term_ends_on")),
                name="renewal_terms_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"Renewal of {self.agreement} at {self.term_ends_on}"


class QuestionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    EXPLAINED = "explained", _("Explained")
    CREDITED = "credited", _("Credited")
    CORRECTED = "corrected", _("Corrected")


class ChargeQuestion(models.Model):
    """A client contact questions one time entry; staff give it one outcome.

    Explained: a reply, nothing changes. Credited: minutes given back by a
    QUESTION_CREDIT ledger entry that names the question. Corrected: the
    entry is corrected (voided and replaced) through time_entry_correct;
    `correction` is the replacement. Changed only by agreements.services.questions.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    time_entry = models.ForeignKey(
        TimeEntry, on_delete=models.PROTECT, related_name="questions", verbose_name=_("time entry")
    )
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("raised by")
    )
    reason = models.TextField(max_length=2000, verbose_name=_("reason"))
    status = models.CharField(
        max_length=16, choices=QuestionStatus.choices, default=QuestionStatus.OPEN, verbose_name=_("status")
    )
    reply = models.TextField(max_length=2000, blank=True, verbose_name=_("reply"))
    credited_minutes = models.PositiveIntegerField(default=0, verbose_name=_("credited minutes"))
    correction = models.OneToOneField(
        TimeEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="correcting_question",
        verbose_name=_("correction"),
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("charge question")
        verbose_name_plural = _("charge questions")
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open question per entry, also when two are raised at the same moment.
            models.UniqueConstraint(
                fields=["time_entry"],
                condition=Q(status=QuestionStatus.OPEN),
                name="chargequestion_one_open_per_entry",
            ),
            models.CheckConstraint(
                condition=Q(status=QuestionStatus.OPEN, resolved_at__isnull=True, credited_minutes=0)
                | (~Q(status=QuestionStatus.OPEN) & Q(resolved_at__isnull=False)),
                name="chargequestion_resolved_has_time",
            ),
            models.CheckConstraint(
                condition=Q(status=QuestionStatus.CREDITED, credited_minutes__gt=0)
                | (~Q(status=QuestionStatus.CREDITED) & Q(credited_minutes=0)),
                name="chargequestion_credit_only_when_credited",
            ),
            models.CheckConstraint(
                condition=~Q(reason=""),
                name="chargequestion_reason_required",
            ),
        ]
        # The dashboard's open questions: read from a small index instead of every question.
        indexes = [
            models.Index(fields=["created_at"], condition=Q(status="open"), name="chargequestion_open_idx"),
        ]

    def __str__(self) -> str:
        return f"Question on {self.time_entry} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == QuestionStatus.OPEN


class EstimateStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")
    CANCELLED = "cancelled", _("Cancelled")


class Estimate(models.Model):
    """The minutes a technician or staff expect a ticket to take, before the work.

    `agreement` is the one the client's order would charge for the work type
    and `charged_minutes` what the estimate would charge there (rounding,
    minimum, multiplier). When the usable balance less the other open
    estimates covers it, it is approved at once (`auto_approved`); otherwise it
    waits for the client. Changed only by agreements.services.estimates.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="estimates", verbose_name=_("ticket"))
    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="estimates", verbose_name=_("agreement")
    )
    work_type = models.ForeignKey(WorkType, on_delete=models.PROTECT, related_name="+", verbose_name=_("work type"))
    minutes = models.PositiveIntegerField(verbose_name=_("estimated minutes"))
    charged_minutes = models.PositiveIntegerField(verbose_name=_("charged minutes"))
    description = models.CharField(max_length=300, validators=[validate_single_line], verbose_name=_("description"))
    status = models.CharField(
        max_length=16, choices=EstimateStatus.choices, default=EstimateStatus.WAITING, verbose_name=_("status")
    )
    auto_approved = models.BooleanField(default=False, verbose_name=_("approved automatically"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("estimated by")
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))
    overrun_flagged_at = models.DateTimeField(null=True, blank=True, verbose_name=_("overrun flagged at"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("estimate")
        verbose_name_plural = _("estimates")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(minutes__gt=0), name="estimate_minutes_positive"),
            models.CheckConstraint(condition=~Q(description=""), name="estimate_description_required"),
            models.CheckConstraint(
                condition=Q(status=EstimateStatus.WAITING, decided_at__isnull=True)
                | (~Q(status=EstimateStatus.WAITING) & Q(decided_at__isnull=False)),
                name="estimate_decided_has_time",
            ),
        ]
        # Open estimates (the reservation beside every balance): a small index, not every estimate.
        indexes = [
            models.Index(
                fields=["agreement"], condition=Q(status__in=["waiting", "approved"]), name="estimate_open_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Estimate {self.minutes} min on {self.ticket} ({self.status})"

    @property
    def is_waiting(self) -> bool:
        return self.status == EstimateStatus.WAITING
