"""An uploaded client import file, from its dry run to its outcome, and the
external ids that tie later imports of the same rows to the agreements."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.validators import validate_single_line


class ImportStatus(models.TextChoices):
    PREVIEWED = "previewed", _("Checked, waiting for confirmation")
    INVALID = "invalid", _("Has errors: nothing can be imported")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed: nothing was imported")


class ImportRun(models.Model):
    """One uploaded file. Its text is kept until it is imported, so the rows
    confirmed are the rows previewed; they are checked again when they are written."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    filename = models.CharField(max_length=255, validators=[validate_single_line], verbose_name=_("file name"))
    content = models.TextField(verbose_name=_("content"))
    row_count = models.PositiveIntegerField(default=0, verbose_name=_("rows"))
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.PREVIEWED, verbose_name=_("status")
    )
    # What the dry run found: counts, the first rows' actions, every error (capped).
    preview = models.JSONField(default=dict, verbose_name=_("preview"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("uploaded by")
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("uploaded at"))
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("client import")
        verbose_name_plural = _("client imports")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ImportStatus.values), name="importrun_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"


class ImportKey(models.Model):
    """The agreement an import row's external id stands for."""

    external_id = models.CharField(
        max_length=100, unique=True, validators=[validate_single_line], verbose_name=_("external id")
    )
    agreement = models.OneToOneField(
        "agreements.Agreement", on_delete=models.PROTECT, related_name="import_key", verbose_name=_("agreement")
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("import key")
        verbose_name_plural = _("import keys")

    def __str__(self) -> str:
        return self.external_id
