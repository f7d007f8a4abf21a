from django import forms
from django.utils import timezone

from billing.models import InvoiceStatus, PaymentMethod


class InvoiceFilterForm(forms.Form):
    client = forms.CharField(
        required=False, label="Client", widget=forms.TextInput(attrs={"placeholder": "Search clients"})
    )
    status = forms.ChoiceField(required=False, label="Status", choices=[("", "Any status"), *InvoiceStatus.choices])
    overdue = forms.BooleanField(required=False, label="Overdue only")


class PaymentForm(forms.Form):
    # Read as text: the service parses the amount and says what is wrong with it.
    amount = forms.CharField(label="Amount", max_length=30)
    method = forms.ChoiceField(label="Method", choices=PaymentMethod.choices)
    reference = forms.CharField(
        label="Reference", max_length=100, help_text="The ACH trace, card receipt, transfer or cheque number."
    )
    paid_on = forms.DateField(
        label="Received on", initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"})
    )


class VoidForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=500, help_text="Kept on the void invoice for the records.")
