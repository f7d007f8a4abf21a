"""Signing in and out, passwords, invitations, and each role's home page."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from accounts import services
from accounts.forms import InvitationAcceptForm


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on its own home page."""
    user = request.user
    if user.is_msp_staff:
        return redirect("dashboard:home")
    if user.is_technician:
        return redirect("timesheet:log")
    return redirect("portal:home")


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
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome to Blockhours — your password is set.")
            return redirect("home")
    return render(
        request,
        "accounts/invitation_accept.html",
        {"form": form, "invited": invitation.user, "password_help": password_validators_help_text_html()},
    )
