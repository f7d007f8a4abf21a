import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from agreements.models import Client
from reports import accounting
from reports.selectors import QUESTION_DIMENSIONS, USAGE_DIMENSIONS
from ui.forms import IntegerField

MONTH_INPUT = forms.DateInput(attrs={"type": "month"}, format="%Y-%m")
MAX_MONTHS = 60


class MonthField(forms.DateField):
    """`2026-03` → the first of that month (an `<input type="month">`)."""

    widget = MONTH_INPUT
    input_formats = ["%Y-%m", "%Y-%m-%d"]

    def to_python(self, value: object) -> datetime.date | None:
        day = super().to_python(value)
        return day.replace(day=1) if day else None


class PeriodForm(forms.Form):
    first = MonthField(label=_("From month"), required=False)
    last = MonthField(label=_("To month"), required=False)

    def clean(self) -> dict:
        data = super().clean()
        first, last = data.get("first"), data.get("last")
        if first and last:
            if first > last:
                raise ValidationError(_("The first month must not be after the last one."))
            if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
                raise ValidationError(_("Choose at most %(count)s months.") % {"count": MAX_MONTHS})
        return data


def client_search() -> forms.CharField:
    # A search box, not a select: the list of clients can be very long.
    return forms.CharField(
        label=_("Client"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": _("Name contains"), "type": "search"}),
    )


class RevenueForm(PeriodForm):
    as_of = forms.DateField(label=_("Deferred as of"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    client = client_search()


class UsageForm(PeriodForm):
    by = forms.ChoiceField(
        label=_("Group by"),
        required=False,
        choices=[(key, label) for key, (label, _fields) in USAGE_DIMENSIONS.items()],
    )
    client = client_search()


class QuestionReportForm(PeriodForm):
    by = forms.ChoiceField(
        label=_("Group by"),
        required=False,
        choices=[(key, label) for key, (label, _field) in QUESTION_DIMENSIONS.items()],
    )
    client = client_search()


class RunwayForm(forms.Form):
    include_ended = forms.BooleanField(label=_("Include ended agreements"), required=False)


class MsaForm(forms.Form):
    candidates_only = forms.BooleanField(label=_("Candidates only"), required=False)


class SeatsForm(forms.Form):
    client = forms.ModelChoiceField(label=_("Client"), queryset=Client.objects.all(), to_field_name="public_id")
    seats = IntegerField(label=_("Seats"), min_value=0, max_value=100_000)


class AccountingExportForm(forms.Form):
    software = forms.ChoiceField(label=_("For"), choices=list(accounting.SOFTWARE.items()))
    document = forms.ChoiceField(label=_("Export"), choices=list(accounting.DOCUMENTS.items()))
    first = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    currency = forms.ChoiceField(label=_("Currency"), required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        in_use = Client.objects.order_by("currency").values_list("currency", flat=True).distinct()
        self.fields["currency"].choices = [("", _("All")), *((code, code) for code in in_use)]

    def clean(self) -> dict:
        data = super().clean()
        first, last = data.get("first"), data.get("last")
        if first and last and first > last:
            raise ValidationError(_("The first day must not be after the last one."))
        return data
