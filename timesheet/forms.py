"""The technician's time-entry form: type-ahead agreement, ticket, duration."""

import datetime
import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Case, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from agreements.domain import parse_duration
from agreements.models import Agreement, AgreementStatus, Client, WorkType
from agreements.selectors import agreements_for_user


def agreement_label(agreement: Agreement) -> str:
    return f"{agreement.client.name} — {agreement.name}"


class AgreementChoices:
    """What a user may log time on, by the label typed in the type-ahead box:
    each client with an active agreement (its agreements then take the time in
    the order staff set) and each active agreement (one query, evaluated once)."""

    def __init__(self, user: User) -> None:
        agreements = list(
            agreements_for_user(user)
            .filter(status=AgreementStatus.ACTIVE)
            .order_by("client__name", "position", "starts_on")
        )
        labels = [agreement_label(a) for a in agreements]
        self.by_label: dict[str, Agreement | Client] = {}
        for agreement, label in zip(agreements, labels, strict=True):
            if agreement.client.name not in self.by_label:
                self.by_label[agreement.client.name] = agreement.client
            if labels.count(label) > 1:  # two agreements of one client with one name
                # Translators: two agreements of one client with one name, told apart by their start date
                label = _("%(label)s (from %(start)s)") % {"label": label, "start": f"{agreement.starts_on:%Y-%m-%d}"}
            self.by_label[label] = agreement
        self.label_of = {a.pk: label for label, a in self.by_label.items() if isinstance(a, Agreement)}

    def label_for(self, agreement: Agreement | None, client: Client) -> str:
        """The label the type-ahead shows for an agreement, or for the client (its order chooses)."""
        if agreement is not None and agreement.pk in self.label_of:
            return self.label_of[agreement.pk]
        return client.name

    def resolve(self, value: str) -> Agreement | Client | None:
        """The agreement, or the client whose agreements take the time in their order."""
        value = (value or "").strip()
        if value in self.by_label:
            return self.by_label[value]
        # A pasted public id works too (links from the dashboard pass one).
        try:
            key = uuid.UUID(value)
        except ValueError:
            return None
        return next((a for a in self.by_label.values() if a.public_id == key), None)


def work_types() -> QuerySet[WorkType]:
    """Active work types, the normal (1×) rate first so it is the default."""
    return WorkType.objects.filter(is_active=True).order_by(
        Case(When(multiplier=1, then=Value(0)), default=Value(1)), "multiplier", "name"
    )


class WorkTypeField(forms.ModelChoiceField):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(queryset=work_types(), empty_label=None, **kwargs)

    def label_from_instance(self, work_type: WorkType) -> str:
        if work_type.multiplier == 1:
            return work_type.name
        return f"{work_type.name} (×{work_type.multiplier.normalize():f})"


class DurationField(forms.CharField):
    def to_python(self, value: str) -> int | None:  # type: ignore[override]
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        return parse_duration(value)


class StartTimeField(forms.TimeField):
    """An optional start time, hours and minutes, in the MSP's local time."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("label", gettext_lazy("Start time"))
        kwargs.setdefault(
            "help_text",
            gettext_lazy(
                "In the office's local time. Given, the part outside business hours is charged at the after-hours rate."
            ),
        )
        super().__init__(
            required=False,
            input_formats=["%H:%M"],
            widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            **kwargs,
        )


class TimeEntryForm(forms.Form):
    agreement = forms.CharField(
        label=gettext_lazy("Client / agreement"),
        help_text=gettext_lazy(
            "Start typing the client's name. Pick the client to charge its agreements in their set order, "
            "or one agreement."
        ),
        widget=forms.TextInput(attrs={"list": "agreement-options", "autocomplete": "off", "autofocus": True}),
    )
    ticket = forms.CharField(
        label=gettext_lazy("Ticket number"),
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("e.g. 4711")}),
    )
    subject = forms.CharField(
        label=gettext_lazy("Ticket subject"),
        max_length=300,
        required=False,
        help_text=gettext_lazy("Only for a new ticket: an existing ticket keeps its subject."),
    )
    work_date = forms.DateField(label=gettext_lazy("Date worked"), widget=forms.DateInput(attrs={"type": "date"}))
    started_at = StartTimeField()
    duration = DurationField(
        label=gettext_lazy("Duration"),
        help_text=gettext_lazy("90, 1:30, 1.5h or 1h30m"),
        widget=forms.TextInput(attrs={"placeholder": "1:30", "inputmode": "text", "autocomplete": "off"}),
    )
    work_type = WorkTypeField(label=gettext_lazy("Work type"))
    notes = forms.CharField(
        label=gettext_lazy("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )
    # As long as the column holding it: a longer key would be a database error on PostgreSQL.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=200)
    # Filled when the form comes from a stopped timer: saving the entry ends that timer.
    timer = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: object, user: User, choices: AgreementChoices | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.choices = choices or AgreementChoices(user)
        self.fields["work_date"].initial = timezone.localdate
        self.fields["idempotency_key"].initial = lambda: uuid.uuid4().hex

    def clean_agreement(self) -> Agreement | None:
        """The agreement picked, or None when the client was picked; the client is in cleaned_data["client"]."""
        chosen = self.choices.resolve(self.cleaned_data["agreement"])
        if chosen is None:
            raise ValidationError(_("Choose an active agreement or a client from the list."))
        if isinstance(chosen, Client):
            self.cleaned_data["client"] = chosen
            return None
        self.cleaned_data["client"] = chosen.client
        return chosen

    def clean_work_date(self) -> datetime.date:
        value = self.cleaned_data["work_date"]
        if value > timezone.localdate():
            raise ValidationError(_("Time cannot be logged for a future date."))
        return value


class TimerStartForm(forms.Form):
    """Start a timer from the time page. Its ids (prefix "timer") and labels
    differ from the time form's beside it, and no label contains one of that
    form's labels: a person, a screen reader and a test's label lookup
    (which matches substrings) each find one field only."""

    agreement = forms.CharField(
        label=gettext_lazy("Timer for: client or agreement"),
        widget=forms.TextInput(attrs={"list": "agreement-options", "autocomplete": "off"}),
    )
    ticket = forms.CharField(label=gettext_lazy("Timer: ticket no."), max_length=64)
    subject = forms.CharField(
        label=gettext_lazy("Timer: subject if the ticket is new"),
        max_length=300,
        required=False,
    )
    work_type = WorkTypeField(label=gettext_lazy("Timer: kind of work"))
    notes = forms.CharField(label=gettext_lazy("Timer: note"), required=False, max_length=5000)

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "timer")
        super().__init__(*args, **kwargs)
        self.choices = AgreementChoices(user)

    def clean_agreement(self) -> Agreement | None:
        chosen = self.choices.resolve(self.cleaned_data["agreement"])
        if chosen is None:
            raise ValidationError(_("Choose an active agreement or a client from the list."))
        if isinstance(chosen, Client):
            self.cleaned_data["client"] = chosen
            return None
        self.cleaned_data["client"] = chosen.client
        return chosen


class TimerMinutesForm(forms.Form):
    """The minutes of a timer left running past midnight, confirmed or corrected before it stops."""

    minutes = DurationField(label=gettext_lazy("Timer: time worked"), help_text=gettext_lazy("90, 1:30, 1.5h or 1h30m"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "timer")
        super().__init__(*args, **kwargs)


class VoidForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("e.g. logged on the wrong ticket")}),
    )


class CorrectForm(forms.Form):
    work_date = forms.DateField(label=gettext_lazy("Date worked"), widget=forms.DateInput(attrs={"type": "date"}))
    started_at = StartTimeField()
    duration = DurationField(label=gettext_lazy("Duration"), help_text=gettext_lazy("90, 1:30, 1.5h or 1h30m"))
    work_type = WorkTypeField(label=gettext_lazy("Work type"))
    notes = forms.CharField(
        label=gettext_lazy("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )
    reason = forms.CharField(label=gettext_lazy("Reason for the correction"), max_length=500)


class EstimateForm(forms.Form):
    """An estimate of a ticket's work: the client's order chooses the agreement, as for its time."""

    agreement = forms.CharField(
        label=gettext_lazy("Client"),
        widget=forms.TextInput(attrs={"list": "agreement-options", "autocomplete": "off", "autofocus": True}),
    )
    ticket = forms.CharField(label=gettext_lazy("Ticket number"), max_length=64)
    subject = forms.CharField(
        label=gettext_lazy("Ticket subject"),
        max_length=300,
        required=False,
        help_text=gettext_lazy("Only for a new ticket: an existing ticket keeps its subject."),
    )
    duration = DurationField(label=gettext_lazy("Estimated time"), help_text=gettext_lazy("90, 1:30, 1.5h or 1h30m"))
    work_type = WorkTypeField(label=gettext_lazy("Work type"))
    description = forms.CharField(label=gettext_lazy("What the work is"), max_length=300)

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.choices = AgreementChoices(user)

    def clean_agreement(self) -> Client:
        chosen = self.choices.resolve(self.cleaned_data["agreement"])
        if chosen is None:
            raise ValidationError(_("Choose a client with an active agreement from the list."))
        client = chosen if isinstance(chosen, Client) else chosen.client
        self.cleaned_data["client"] = client
        return client
