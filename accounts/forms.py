import unicodedata

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.services import account_email_send


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form, with two changes: the link goes through the email
    outbox (recorded, sent by a worker after the response), so a known and an
    unknown address answer in the same time whatever the mail server does;
    and people who never set a password (their invitation was lost) get a
    link too, so they can choose one."""

    def get_users(self, email: str):  # noqa: ANN201
        wanted = unicodedata.normalize("NFKC", email).casefold()
        users = User._default_manager.filter(email__iexact=email, is_active=True)
        return (user for user in users if unicodedata.normalize("NFKC", user.email).casefold() == wanted)

    def send_mail(  # noqa: PLR0913 - Django's signature
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict,
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        subject = render_to_string(subject_template_name, context)
        body = render_to_string(email_template_name, context)
        account_email_send(user=context["user"], kind="password_reset", subject=subject, body_text=body)


class SignInForm(auth_forms.AuthenticationForm):
    """Django's sign-in form; the name may be the username or the email address."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Username or email")
        self.fields["username"].max_length = 254
        self.fields["username"].widget.attrs["maxlength"] = 254
        self.fields["username"].widget.attrs["autocomplete"] = "username"


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
