from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.validators import validate_single_line


class Role(models.TextChoices):
    STAFF = "staff", _("MSP staff")
    TECHNICIAN = "technician", _("Technician")
    CLIENT = "client", _("Client contact")


class BlockhoursUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):  # noqa: ANN001, ANN201
        # `manage.py createsuperuser` comes here: a superuser is MSP staff.
        extra_fields.setdefault("role", Role.STAFF)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in: MSP staff, a technician, or a client's contact.

    A client contact's client is recorded by agreements.ClientContact, so this
    app stays below agreements in the dependency order.
    """

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.TECHNICIAN)
    first_name = models.CharField(_("first name"), max_length=150, blank=True, validators=[validate_single_line])
    last_name = models.CharField(_("last name"), max_length=150, blank=True, validators=[validate_single_line])
    email = models.EmailField(_("email address"), blank=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Language of the pages you see. Empty: your browser's language."),
    )

    objects = BlockhoursUserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="user_role_valid"),
            # A superuser is staff everywhere: every check of the role (pages,
            # API, recipients of staff emails) then holds for them too.
            models.CheckConstraint(
                condition=models.Q(is_superuser=False) | models.Q(role=Role.STAFF),
                name="user_superuser_is_staff",
                violation_error_message=_("A superuser has the MSP staff role."),
            ),
        ]

    @property
    def is_msp_staff(self) -> bool:
        return self.role == Role.STAFF

    @property
    def is_technician(self) -> bool:
        return self.role == Role.TECHNICIAN

    @property
    def is_client_contact(self) -> bool:
        return self.role == Role.CLIENT

    @property
    def works_for_msp(self) -> bool:
        """Staff and technicians see every client; client contacts only their own."""
        return self.is_msp_staff or self.is_technician


class Invitation(models.Model):
    """A single-use, expiring link that lets an invited person set their own
    password. Only a hash of the token is stored: a database leak gives no
    working links, and nobody ever receives a password by email."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return _("Invitation for %(user)s") % {"user": self.user}


class TrustedDevice(models.Model):
    """A browser that signed in to an account successfully before (OWASP's
    "device cookie"): its signed cookie names this row. A lockout of the
    account from elsewhere does not refuse it; its own failed sign-ins are
    counted here and, at AXES_FAILURE_LIMIT within AXES_COOLOFF_TIME, it is
    treated like any other browser again."""

    key = models.UUIDField(unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="trusted_devices")
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_sign_in_at"]

    def __str__(self) -> str:
        return _("Trusted browser of %(user)s") % {"user": self.user}
