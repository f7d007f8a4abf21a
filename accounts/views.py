"""Signing in and out, passwords, invitations, and each role's home page."""

import math
from http import HTTPStatus

from axes.helpers import get_client_ip_address, get_cool_off
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from accounts import services
from accounts.devices import device_failure_record, device_trust
from accounts.forms import InvitationAcceptForm, PasswordResetForm, ReauthForm, SignInForm
from accounts.reauth import login_mark_recent
from accounts.tasks import queue_password_reset


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on its own home page."""
    user = request.user
    if user.is_msp_staff:
        return redirect("dashboard:home")
    if user.is_technician:
        return redirect("timesheet:log")
    return redirect("portal:home")


def locked_out(request: HttpRequest, original_response: HttpResponse | None = None, credentials: object = None):
    """django-axes' answer once an account or an address is locked (AXES_LOCKOUT_CALLABLE):
    how long to wait and that MSP staff can unlock it. It names no account."""
    cool_off = get_cool_off(request)
    minutes = math.ceil(cool_off.total_seconds() / 60) if cool_off else None
    return render(
        request, "accounts/locked_out.html", {"cooloff_minutes": minutes}, status=HTTPStatus.TOO_MANY_REQUESTS
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset form, throttled per address and per email: beyond
    PASSWORD_RESET_LIMIT requests nothing is sent (accounts.services). The
    link is found and sent by a worker after the response (accounts.tasks), so
    known and unknown addresses answer alike, however slow the mail server."""

    template_name = "accounts/password_reset.html"
    form_class = PasswordResetForm

    def form_valid(self, form):  # noqa: ANN001, ANN201
        address = get_client_ip_address(self.request)
        email = form.cleaned_data["email"]
        if services.password_reset_allowed(address=address, email=email):
            queue_password_reset(
                email=email,
                language=translation.get_language(),
                domain=self.request.get_host(),
                use_https=self.request.is_secure(),
            )
            return redirect(self.get_success_url())
        minutes = settings.PASSWORD_RESET_WINDOW_MINUTES
        form.add_error(
            None,
            ngettext(
                "Too many password-reset requests from your network or for this email address. "
                "Nothing was sent; try again in %(minutes)d minute.",
                "Too many password-reset requests from your network or for this email address. "
                "Nothing was sent; try again in %(minutes)d minutes.",
                minutes,
            )
            % {"minutes": minutes},
        )
        response = self.form_invalid(form)
        response.status_code = HTTPStatus.TOO_MANY_REQUESTS
        return response


class SignInView(auth_views.LoginView):
    """Sign in with the username or the email address (accounts.backends). A
    browser that signs in is trusted for that account (accounts.devices), so a
    lockout caused elsewhere does not keep its owner out."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    form_class = SignInForm

    def form_valid(self, form):  # noqa: ANN001, ANN201
        response = super().form_valid(form)
        device_trust(request=self.request, response=response, user=form.get_user())
        return response

    def form_invalid(self, form):  # noqa: ANN001, ANN201
        if form.data.get("password"):
            device_failure_record(request=self.request)  # only a trusted browser's own count
        return super().form_invalid(form)


@sensitive_post_parameters()
@never_cache
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_get_valid(token)
    if invitation is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    form = InvitationAcceptForm(invitation.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(token=token, password=form.cleaned_data["new_password1"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            login(request, user, backend="accounts.backends.UsernameOrEmailBackend")
            messages.success(request, _("Welcome to Blockhours — your password is set."))
            return redirect("home")
    return render(
        request,
        "accounts/invitation_accept.html",
        {"form": form, "invited": invitation.user, "password_help": password_validators_help_text_html()},
    )


@require_POST
def language_choose(request: HttpRequest) -> HttpResponse:
    """Switch the pages' language, from the menu or the sign-in page.

    Django's set_language checks the language and the `next` address and sets
    the language cookie (for visitors who are not signed in); a signed-in
    user's choice is also kept in their profile, so it follows them to other
    browsers and wins over the cookie (accounts.middleware).
    """
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and (language == "" or check_for_language(language)):
        services.user_language_set(user=request.user, language=language)
        if language == "":  # back to the browser's language
            response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return response


@login_required
@sensitive_post_parameters("password")
@never_cache
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """Enter the password again before a sensitive action (accounts.reauth), then go back to it."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    # Only back into this site: /reauth/?next=https://evil.example/ must not
    # turn a password prompt into a trusted-looking redirect elsewhere.
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = resolve_url("home")
    form = ReauthForm(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        login_mark_recent(request)
        return redirect(next_url)
    return render(
        request,
        "accounts/reauth.html",
        {"form": form, "next": next_url, "hours": settings.REAUTH_AFTER_HOURS},
    )
