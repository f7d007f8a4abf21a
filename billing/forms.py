from django import forms
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from billing.models import InvoiceStatus, PaymentMethod


class InvoiceFilterForm(forms.Form):
    client = forms.CharField(
        required=False, label=_("Client"), widget=forms.TextInput(attrs={"placeholder": _("Search clients")})
    )
    status = forms.ChoiceField(
        required=False, label=_("Status"), choices=[("", _("Any status")), *InvoiceStatus.choices]
    )
    overdue = forms.BooleanField(required=False, label=_("Overdue only"))


class PaymentForm(forms.Form):
    # Read as text: the service parses the amount and says what is wrong with it.
    amount = forms.CharField(label=_("Amount"), max_length=30)
    method = forms.ChoiceField(label=_("Method"), choices=PaymentMethod.choices)
    reference = forms.CharField(
        label=_("Reference"), max_length=100, help_text=_("The ACH trace, card receipt, transfer or cheque number.")
    )
    paid_on = forms.DateField(
        label=_("Received on"), initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_amount(self) -> str:
        # "1400,50" in Italian is 1400.50: the language's decimal separator becomes
        # the point the service reads; anything else reaches it as typed.
        return formats.sanitize_separators(self.cleaned_data["amount"].strip())


class VoidForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=500, help_text=_("Kept on the void invoice for the records.")
    )
