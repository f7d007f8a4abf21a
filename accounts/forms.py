from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _


class InvitationAcceptForm(SetPasswordForm):
    """Choose a password for an invited account (the user is known from the link)."""


class ReauthForm(forms.Form):
    """The signed-in user's password again, before a sensitive action (accounts.reauth)."""

    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )

    def __init__(self, request: HttpRequest, *args: object, **kwargs: object) -> None:
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        user = self.request.user
        # authenticate(), not user.check_password(): django-axes then counts a
        # wrong password here like a failed sign-in, and locks out after as many.
        confirmed = authenticate(self.request, username=user.get_username(), password=password)
        if confirmed is None or confirmed.pk != user.pk:
            raise ValidationError(_("That is not your password. Try again."), code="invalid_password")
        return password
