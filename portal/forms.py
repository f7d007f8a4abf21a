from django import forms
from django.utils.translation import gettext_lazy as _

from agreements.models import Tier


class UsageFilterForm(forms.Form):
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict:
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("The end date is before the start date."))
        return data


class TierChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, tier: Tier) -> str:
        return tier.name


class HoursRequestForm(forms.Form):
    tier = TierChoiceField(
        queryset=Tier.objects.filter(is_active=True),
        empty_label=None,
        widget=forms.RadioSelect,
        label=_("Block size"),
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Anything we should know, e.g. a purchase-order number."),
    )


class QuestionForm(forms.Form):
    reason = forms.CharField(
        label=_("What is wrong with this charge?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("We read every question and answer by email; the answer also shows on the entry."),
    )


class EstimateApproveForm(forms.Form):
    """Approve a waiting estimate, optionally asking for a block at the same time."""

    tier = TierChoiceField(
        queryset=Tier.objects.filter(is_active=True),
        required=False,
        empty_label=_("No block, just approve"),
        label=_("Buy a block as well"),
        help_text=_("We send the block's invoice shortly; the estimate is approved either way."),
    )
