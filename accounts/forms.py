from django.contrib.auth.forms import SetPasswordForm


class InvitationAcceptForm(SetPasswordForm):
    """Choose a password for an invited account (the user is known from the link)."""
