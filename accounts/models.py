from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.validators import validate_single_line


class Role(models.TextChoices):
    STAFF = "staff", _("MSP staff")
    TECHNICIAN = "technician", _("Technician")
    CLIENT = "client", _("Client contact")


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

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="user_role_valid"),
        ]

    @property
    def is_msp_staff(self) -> bool:
        return self.role == Role.STAFF or self.is_superuser

    @property
    def is_technician(self) -> bool:
        return self.role == Role.TECHNICIAN

    @property
    def is_client_contact(self) -> bool:
        return self.role == Role.CLIENT and not self.is_superuser

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
