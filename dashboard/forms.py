import datetime
from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agreements.domain import MAX_BLOCK_HOURS
from agreements.models import Agreement, AgreementStatus, Tier, Weekday, WorkType, default_language
from agreements.services import AGREEMENT_SETTINGS
from timesheet.forms import DurationField, StartTimeField
from ui.forms import DecimalField, IntegerField
from webhooks.models import EventKind


class AgreementFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Client"),
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("Search clients"), "type": "search"}),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("active", _("Active")), ("ended", _("Ended")), ("all", _("All statuses"))],
    )
    flag = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[
            ("", _("All balances")),
            ("low", _("Low (at or below threshold)")),
            ("exhausted", _("Exhausted")),
            ("expiring", _("Expiring within 30 days")),
        ],
    )


class ClientForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    hourly_rate = DecimalField(
        label=_("Hourly rate"), max_digits=12, decimal_places=2, min_value=Decimal("0"), initial=Decimal("100.00")
    )
    currency = forms.CharField(
        label=_("Currency"),
        max_length=3,
        min_length=3,
        required=False,
        help_text=_("ISO code, e.g. USD; empty for the default."),
    )
    billing_name = forms.CharField(
        label=_("Billing name"),
        max_length=200,
        required=False,
        help_text=_("Name on invoices, if not the client's name."),
    )
    billing_email = forms.EmailField(
        label=_("Billing email"), required=False, help_text=_("Accounts-payable address that receives invoices.")
    )
    billing_address = forms.CharField(
        label=_("Billing address"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        initial=default_language,
        required=False,
        help_text=_("Language of the client's invoices, statements and emails."),
    )

    def clean_currency(self) -> str:
        value = self.cleaned_data["currency"].strip().upper()
        if value and not value.isalpha():
            raise ValidationError(_("Use a three-letter currency code such as USD or EUR."))
        return value


class ClientEditForm(ClientForm):
    """The same fields, prefilled; currency and language are never left empty here."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["hourly_rate"].help_text = _("Applies to future sales only: blocks already sold keep their rate.")
        self.fields["currency"].required = True
        self.fields["currency"].help_text = _("ISO code, e.g. USD. Fixed once the client has blocks or invoices.")
        self.fields["language"].required = True


class ThresholdField(DurationField):
    """A duration where zero is allowed (no warning)."""

    def to_python(self, value: str) -> int | None:  # type: ignore[override]
        if isinstance(value, str) and value.strip() == "0":
            return 0
        return super().to_python(value)


class AgreementForm(forms.ModelForm):
    low_balance_threshold = ThresholdField(
        label=_("Low-balance threshold"),
        initial="2:00",
        help_text=_("Reload when the balance falls to this, e.g. 2:00 or 120."),
    )
    rollover_cap = DurationField(
        label=_("Rollover cap"),
        required=False,
        help_text=_("At most this much rolls over (capped-hours rollover), e.g. 10:00 or 600."),
    )
    # Left out of a post, these keep the model's default (an agreement that ends, nothing rolled, no grace).
    OPTIONAL_WITH_DEFAULT = (
        "topup_mode",
        "term_end_action",
        "rollover_policy",
        "rollover_grace_months",
        "grace_days",
        "burn_order",
        "minimum_billable_minutes",
    )

    class Meta:
        model = Agreement
        fields = [
            "name",
            "starts_on",
            "ends_on",
            "usage_alert_percent",
            "billing_increment_minutes",
            "rounding_mode",
            "minimum_billable_minutes",
            "weekends_holidays_after_hours",
            "overage_policy",
            "overage_limit_minutes",
            "overage_rate",
            "credit_policy",
            "topup_mode",
            "reload_tier",
            "work_types",
            "term_end_action",
            "renewal_tier",
            "renewal_invoice_days",
            "rollover_policy",
            "rollover_cap_percent",
            "rollover_grace_months",
            "grace_days",
            "burn_order",
        ]
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
            "work_types": forms.SelectMultiple(attrs={"size": 4}),
        }
        field_classes = {
            "usage_alert_percent": IntegerField,
            "billing_increment_minutes": IntegerField,
            "minimum_billable_minutes": IntegerField,
            "overage_limit_minutes": IntegerField,
            "overage_rate": DecimalField,
            "renewal_invoice_days": IntegerField,
            "rollover_cap_percent": IntegerField,
            "rollover_grace_months": IntegerField,
            "grace_days": IntegerField,
        }
        labels = {
            "billing_increment_minutes": _("Billing increment (minutes)"),
            "minimum_billable_minutes": _("Minimum per entry (minutes)"),
            "overage_limit_minutes": _("Overage limit (minutes)"),
            "rollover_cap_percent": _("Rollover cap (% of the renewal block)"),
        }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["work_types"].queryset = WorkType.objects.filter(is_active=True)
        self.fields["reload_tier"].queryset = Tier.objects.filter(is_active=True)
        self.fields["renewal_tier"].queryset = Tier.objects.filter(is_active=True)
        for name in self.OPTIONAL_WITH_DEFAULT:
            self.fields[name].required = False
        order = list(self.fields)
        order.remove("rollover_cap")
        order.insert(order.index("rollover_policy") + 1, "rollover_cap")
        self.order_fields(order)

    def _post_clean(self) -> None:
        # The service validates and saves; here only the form-level checks run.
        pass

    def agreement_fields(self) -> dict[str, object]:
        data = {name: self.cleaned_data[name] for name in self.Meta.fields if name != "work_types"}
        data["low_balance_threshold_minutes"] = self.cleaned_data["low_balance_threshold"]
        data["rollover_cap_minutes"] = self.cleaned_data["rollover_cap"]
        for name in self.OPTIONAL_WITH_DEFAULT:
            if data[name] in (None, ""):
                data[name] = Agreement._meta.get_field(name).get_default()
        return data


# The settings typed as a duration on the forms (2:00, 90, 1.5h), by the form field that takes each.
DURATION_SETTINGS = {"low_balance_threshold_minutes": "low_balance_threshold", "rollover_cap_minutes": "rollover_cap"}


def _number_field_classes(names: list[str]) -> dict[str, type[forms.Field]]:
    """The digits-only number fields (ui.forms) for the model's number fields among `names`."""
    classes: dict[str, type[forms.Field]] = {}
    for name in names:
        field = Agreement._meta.get_field(name)
        if isinstance(field, models.DecimalField):
            classes[name] = DecimalField
        elif isinstance(field, models.IntegerField):
            classes[name] = IntegerField
    return classes


_EDITED_ON_THE_FORM = [name for name in AGREEMENT_SETTINGS if name not in DURATION_SETTINGS]


class AgreementEditForm(AgreementForm):
    """Every setting of agreements.services.AGREEMENT_SETTINGS and the work
    types covered, prefilled from the agreement (pass `instance`)."""

    class Meta(AgreementForm.Meta):
        fields = [*_EDITED_ON_THE_FORM, "work_types"]
        field_classes = _number_field_classes(_EDITED_ON_THE_FORM)
        labels = {**AgreementForm.Meta.labels, "usage_alert_percent": _("Usage alert (% of the latest block)")}

    def __init__(self, *args: object, instance: Agreement, **kwargs: object) -> None:
        kwargs["initial"] = {
            form_field: getattr(instance, setting) for setting, form_field in DURATION_SETTINGS.items()
        } | dict(kwargs.get("initial") or {})
        super().__init__(*args, instance=instance, **kwargs)
        self.fields["billing_increment_minutes"].help_text = _(
            "Applies to time logged from now on: entries already logged keep the minutes they were charged."
        )
        self.order_fields([DURATION_SETTINGS.get(name, name) for name in AGREEMENT_SETTINGS] + ["work_types"])

    def settings(self) -> dict[str, object]:
        """The form's values by setting name, for agreements.services.agreement_update."""
        data = {name: self.cleaned_data[name] for name in _EDITED_ON_THE_FORM}
        data.update({setting: self.cleaned_data[field] for setting, field in DURATION_SETTINGS.items()})
        for name in self.OPTIONAL_WITH_DEFAULT:
            if data[name] in (None, ""):
                data[name] = Agreement._meta.get_field(name).get_default()
        return data


class AgreementMoveForm(forms.Form):
    """The move up / move down buttons of the client page send the new place."""

    position = IntegerField(label=_("Position"), min_value=1)


class AgreementWorkTypesForm(forms.Form):
    work_types = forms.ModelMultipleChoiceField(
        label=_("Work types covered"),
        queryset=WorkType.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
        help_text=_(
            "None chosen: all work types. Time of a type this agreement does not cover, logged for the client, "
            "goes to the next agreement in the client's order."
        ),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["work_types"].queryset = WorkType.objects.filter(is_active=True).order_by("multiplier", "name")


class TierChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, tier: Tier) -> str:
        return f"{tier.name} ({tier.hours} h)"


class BlockSellForm(forms.Form):
    tier = TierChoiceField(
        label=_("Tier"),
        queryset=Tier.objects.filter(is_active=True),
        required=False,
        empty_label=_("Custom number of hours"),
    )
    hours = IntegerField(
        label=_("Custom hours"),
        required=False,
        min_value=1,
        max_value=MAX_BLOCK_HOURS,
        help_text=_("Only for a custom block, at the client's full rate."),
    )
    starts_on = forms.DateField(
        label=_("Usable from"), widget=forms.DateInput(attrs={"type": "date"}), initial=timezone.localdate
    )
    expires_on = forms.DateField(
        label=_("Expires on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Empty: the agreement's term end, or never."),
    )

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors:
            if data.get("tier") and data.get("hours"):
                raise ValidationError(_("Choose a tier or enter custom hours, not both."))
            if not data.get("tier") and not data.get("hours"):
                self.add_error("hours", _("Choose a tier, or enter the number of hours."))
            if data.get("expires_on") and data.get("starts_on") and data["expires_on"] < data["starts_on"]:
                self.add_error("expires_on", _("The block cannot expire before it starts."))
        return data


class BlockExpiryForm(forms.Form):
    expires_on = forms.DateField(
        label=_("New expiry date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The last day its hours can be used: today or later."),
    )
    no_expiry = forms.BooleanField(label=_("No expiry: the hours never expire"), required=False)
    reason = forms.CharField(label=_("Reason"), max_length=400, help_text=_("Required; shown in the ledger."))

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors:
            if data.get("no_expiry") and data.get("expires_on"):
                self.add_error("expires_on", _("Enter a date or choose no expiry, not both."))
            elif not data.get("no_expiry") and not data.get("expires_on"):
                self.add_error("expires_on", _("Enter the new expiry date, or choose no expiry."))
        return data

    def new_expiry(self) -> datetime.date | None:
        return None if self.cleaned_data["no_expiry"] else self.cleaned_data["expires_on"]


class ReloadDraftSizeForm(forms.Form):
    """Another block size for a drafted reload: a tier, or custom hours."""

    tier = TierChoiceField(
        label=_("Tier"),
        queryset=Tier.objects.filter(is_active=True),
        required=False,
        empty_label=_("Custom number of hours"),
    )
    hours = IntegerField(
        label=_("Custom hours"),
        required=False,
        min_value=1,
        max_value=MAX_BLOCK_HOURS,
        help_text=_("Only for a custom block, at the client's full rate."),
    )

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors:
            if data.get("tier") and data.get("hours"):
                raise ValidationError(_("Choose a tier or enter custom hours, not both."))
            if not data.get("tier") and not data.get("hours"):
                self.add_error("hours", _("Choose a tier, or enter the number of hours."))
        return data


class ReloadDraftDiscardForm(forms.Form):
    reason = forms.CharField(
        label=_("Why discard it (optional)"),
        required=False,
        max_length=500,
        help_text=_("Kept with the voided draft; nothing is sent to the client."),
    )


class AdjustmentForm(forms.Form):
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=[("add", _("Add hours")), ("deduct", _("Deduct hours"))],
        widget=forms.RadioSelect,
        initial="add",
    )
    duration = DurationField(label=_("Time"), help_text=_("e.g. 1:30, 90 or 2h"))
    reason = forms.CharField(
        label=_("Reason"), max_length=500, help_text=_("Required; the client sees this in the ledger.")
    )

    def signed_minutes(self) -> int:
        minutes = self.cleaned_data["duration"]
        return -minutes if self.cleaned_data["direction"] == "deduct" else minutes


class GoodwillForm(forms.Form):
    """Free hours for a client: no invoice, no rate."""

    duration = DurationField(label=_("Time"), help_text=_("e.g. 1:30, 90 or 2h"))
    expires_on = forms.DateField(
        label=_("Expires on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Empty: the agreement's term end, or never."),
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=500, help_text=_("Required; the client sees this in the ledger.")
    )


class AgreementChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, agreement: Agreement) -> str:
        return agreement.name


class HoursMoveForm(forms.Form):
    """Unused hours of a block to another active agreement of the same client."""

    to_agreement = AgreementChoiceField(
        label=_("To agreement"), queryset=Agreement.objects.none(), to_field_name="public_id"
    )
    duration = DurationField(label=_("Time"), help_text=_("e.g. 1:30, 90 or 2h"))
    reason = forms.CharField(
        label=_("Reason"), max_length=500, help_text=_("Required; the client sees this in the ledger.")
    )

    def __init__(self, *args: object, block, **kwargs: object) -> None:  # noqa: ANN001
        super().__init__(*args, **kwargs)
        self.fields["to_agreement"].queryset = (
            Agreement.objects.filter(client_id=block.agreement.client_id, status=AgreementStatus.ACTIVE)
            .exclude(pk=block.agreement_id)
            .order_by("position", "pk")
        )


class CancellationForm(forms.Form):
    """Cancel an agreement: what happens to every block's unused hours, and why."""

    disposition = forms.ChoiceField(
        label=_("Unused hours"),
        choices=[
            ("refund", _("Refund them: a credit note against each paid block's invoice, emailed to the client")),
            ("forfeit", _("Forfeit them: no money back, the hours become breakage")),
        ],
        widget=forms.RadioSelect,
        initial="refund",
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=400, help_text=_("Required; printed on the credit note and kept in the ledger.")
    )


class BlockCancellationForm(CancellationForm):
    """A block's unused hours, all of them or a part."""

    duration = DurationField(
        label=_("Time"),
        required=False,
        help_text=_("Leave empty for every unused minute; or e.g. 1:30, 90 or 2h."),
    )


class ContactInviteForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"))
    username = forms.CharField(label=_("Username"), max_length=150, help_text=_("What they type to sign in."))
    receives_invoices = forms.BooleanField(
        label=_("Billing contact (receives invoices and low-balance notices)"), required=False, initial=True
    )


class TechnicianInviteForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"))
    username = forms.CharField(label=_("Username"), max_length=150, help_text=_("What they type to sign in."))


class LockoutUnlockForm(forms.Form):
    """One row's Unlock button on the lockouts page (accounts.services.lockout_clear checks the rest)."""

    kind = forms.ChoiceField(choices=[("account", _("Account")), ("address", _("Address"))])
    value = forms.CharField(max_length=255)


class BusinessHoursForm(forms.Form):
    """Opening and closing time of each weekday, in the MSP's local time; both empty: closed."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        for day in Weekday:
            self.fields[f"opens_{day.value}"] = StartTimeField(
                label=_("%(day)s opens") % {"day": day.label}, help_text=""
            )
            self.fields[f"closes_{day.value}"] = StartTimeField(
                label=_("%(day)s closes") % {"day": day.label}, help_text=""
            )

    def rows(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        return [(day.label, self[f"opens_{day.value}"], self[f"closes_{day.value}"]) for day in Weekday]


class HolidayForm(forms.Form):
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    name = forms.CharField(
        label=_("Name"), max_length=100, widget=forms.TextInput(attrs={"placeholder": _("e.g. New Year's Day")})
    )


class WorkTypeForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    multiplier = forms.DecimalField(
        label=_("Multiplier"),
        max_digits=4,
        decimal_places=2,
        help_text=_("Charged time = time worked × this: 1 normal, 1.5 after-hours, 0 non-billable."),
    )
    is_active = forms.BooleanField(
        label=_("In use"), required=False, initial=True, help_text=_("Technicians can choose it when they log time.")
    )
    is_after_hours = forms.BooleanField(
        label=_("After-hours rate"),
        required=False,
        help_text=_(
            "The rate of time worked outside business hours; it takes the flag from the work type that has it."
        ),
    )


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label=_("URL"),
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://psa.example.com/blockhours"}),
        help_text=_("An http(s) address on a public host; it receives a signed POST for each event chosen."),
    )
    description = forms.CharField(label=_("Description"), max_length=100, required=False)
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=EventKind.choices,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )


class WebhookEndpointEditForm(WebhookEndpointForm):
    is_active = forms.BooleanField(
        label=_("Active"), required=False, help_text=_("Untick to stop sending to it without removing it.")
    )


class QuestionResolveForm(forms.Form):
    """One outcome for a questioned charge; the service checks the minutes against the entry."""

    OUTCOMES = [
        ("explained", _("Explain: reply, nothing changes")),
        ("credited", _("Credit minutes back")),
        ("corrected", _("Correct the entry")),
    ]
    outcome = forms.ChoiceField(label=_("Outcome"), choices=OUTCOMES, widget=forms.RadioSelect)
    reply = forms.CharField(
        label=_("Reply to the client"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("The client reads it in the email and on the entry."),
    )
    credit_minutes = IntegerField(
        label=_("Minutes to credit"),
        required=False,
        min_value=1,
        help_text=_("Credit: at most the minutes the entry charged."),
    )
    minutes = DurationField(
        label=_("Corrected duration"),
        required=False,
        help_text=_("Correction: the time actually worked, e.g. 45 or 1:15; left empty, it stays as logged."),
    )
    notes = forms.CharField(
        label=_("Corrected notes"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Correction: left empty, the notes stay as logged."),
    )

    def clean(self) -> dict:
        data = super().clean()
        outcome = data.get("outcome")
        if outcome == "credited" and not data.get("credit_minutes"):
            self.add_error("credit_minutes", _("Enter the minutes to credit."))
        if outcome == "corrected" and not data.get("minutes") and not data.get("notes"):
            self.add_error("minutes", _("Enter the corrected duration or notes."))
        return data
