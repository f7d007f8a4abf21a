from django import forms
from django.utils.translation import gettext_lazy as _

from audit.models import AuditAction
from audit.selectors import audit_actors, audit_clients


class AuditFilterForm(forms.Form):
    client = forms.ModelChoiceField(
        queryset=None, required=False, label=_("Client"), empty_label=_("Any client"), to_field_name="public_id"
    )
    action = forms.ChoiceField(required=False, label=_("Action"), choices=[("", _("Any action")), *AuditAction.choices])
    actor = forms.ModelChoiceField(
        queryset=None, required=False, label=_("Who"), empty_label=_("Anyone"), to_field_name="username"
    )
    since = forms.DateField(required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = audit_clients()
        self.fields["actor"].queryset = audit_actors()

    def clean(self) -> dict:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", _("The end date is before the start date."))
        return data
