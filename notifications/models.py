"""Low-balance episodes and every email sent for them.

The rows are the guards that make the background work exactly-once: an
episode is claimed by inserting it (one open episode per agreement, held by
a unique constraint), and an email is claimed by a conditional UPDATE of its
status that must change exactly one row.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EpisodeKind(models.TextChoices):
    LOW_BALANCE = "low_balance", _("Balance at or below the threshold")
    USAGE = "usage", _("Share of the last block used")
    EXHAUSTED = "exhausted", _("Balance exhausted")


class Episode(models.Model):
    """One stretch of time an agreement spends low: opened when its balance
    falls to the threshold, closed when it rises above again."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agreement = models.ForeignKey("agreements.Agreement", on_delete=models.PROTECT, related_name="episodes")
    kind = models.CharField(max_length=16, choices=EpisodeKind.choices, default=EpisodeKind.LOW_BALANCE)
    opened_at = models.DateTimeField(default=timezone.now)
    balance_at_open = models.IntegerField()
    threshold_at_open = models.IntegerField()
    reload_invoice = models.OneToOneField(
        "billing.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="episode"
    )
    # The reload block's hours were credited at once (auto-reload, or the
    # agreement's usable-at-once policy), not when its invoice is paid.
    auto_reloaded = models.BooleanField(default=False)
    # Set when the invoice, its PDF and the email rows exist; until then the
    # sweep hands the episode to a worker again (broker down, worker killed).
    processed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # Two sweeps at the same moment cannot both open an episode.
            models.UniqueConstraint(
                fields=["agreement", "kind"], condition=Q(closed_at__isnull=True), name="episode_one_open_per_agreement"
            ),
        ]
        indexes = [
            models.Index(fields=["opened_at"], condition=Q(processed_at__isnull=True), name="episode_unprocessed_idx"),
        ]

    def __str__(self) -> str:
        values = {"kind": self.get_kind_display(), "agreement": self.agreement}
        if self.is_open:
            return _("%(kind)s — %(agreement)s (open)") % values
        return _("%(kind)s — %(agreement)s (closed)") % values

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class EmailKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice to the client")
    CREDIT_NOTE = "credit_note", _("Credit note to the client")
    RELOAD_INVOICE = "reload_invoice", _("Reload invoice to the client")
    AUTO_RELOADED = "auto_reloaded", _("Hours reloaded automatically")
    LOW_BALANCE_STAFF = "low_balance_staff", _("Low balance notice to staff")
    LOW_BALANCE_CLIENT = "low_balance_client", _("Low balance notice to the client, nothing sold")
    RELOAD_DRAFT_STAFF = "reload_draft_staff", _("Reload invoice drafted, to staff for review")
    TERM_ENDING_STAFF = "term_ending_staff", _("Low balance near the end of the term, to staff")
    EXHAUSTED_STAFF = "exhausted_staff", _("Exhausted balance alert to staff")
    USAGE_ALERT = "usage_alert", _("Share of block used")
    EXPIRY_NOTICE = "expiry_notice", _("Hours expiring soon")
    RENEWAL_NOTICE = "renewal_notice", _("Agreement term ending soon")
    STATEMENT = "statement", _("Monthly statement to the client")
    INVITATION = "invitation", _("Invitation to set a password")
    PASSWORD_RESET = "password_reset", _("Password reset link")
    EMAIL_FAILED_STAFF = "email_failed_staff", _("Undelivered email alert to staff")
    PAYMENT_FAILED = "payment_failed", _("Online payment failed, to the client")
    PAYMENT_ALERT_STAFF = "payment_alert_staff", _("Online payment problem, to staff")
    QUESTION_RAISED_STAFF = "question_raised_staff", _("A client questioned a charge, to staff")
    QUESTION_ANSWERED = "question_answered", _("Answer to a questioned charge, to the client")
    ESTIMATE_APPROVAL = "estimate_approval", _("Estimate to approve, to the client")
    ESTIMATE_DECIDED = "estimate_decided", _("Estimate approved or declined, to the technician and staff")
    ESTIMATE_OVERRUN_STAFF = "estimate_overrun_staff", _("Time beyond an estimate, to staff")


# Emails whose failure staff are not alerted to: they are staff's own (an
# alert about an alert would loop), or asked for by the person who gets
# them (a reset link is asked for again).
NO_FAILURE_ALERT = frozenset(
    {
        EmailKind.LOW_BALANCE_STAFF,
        EmailKind.RELOAD_DRAFT_STAFF,
        EmailKind.EXHAUSTED_STAFF,
        EmailKind.EMAIL_FAILED_STAFF,
        EmailKind.PAYMENT_ALERT_STAFF,
        EmailKind.PASSWORD_RESET,
        EmailKind.QUESTION_RAISED_STAFF,
        EmailKind.ESTIMATE_DECIDED,
        EmailKind.ESTIMATE_OVERRUN_STAFF,
    }
)
# Emails that carry a sign-in link: their text is blanked once sent, so the
# database never holds a working link longer than needed (the invitation
# itself stores only a hash of its token).
CARRIES_SIGN_IN_LINK = frozenset({EmailKind.INVITATION, EmailKind.PASSWORD_RESET})


class EmailStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Being sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    STUCK = "stuck", _("Interrupted while sending")


class OutgoingEmail(models.Model):
    """An email to one recipient, recorded before it is sent."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=32, choices=EmailKind.choices)
    recipient = models.EmailField()
    subject = models.CharField(max_length=300)
    # The message is rendered once, when recorded, so a retry sends exactly
    # what was recorded and the record shows what the client received.
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, null=True, blank=True, related_name="emails")
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="emails"
    )
    credit_note = models.ForeignKey(
        "billing.CreditNote", on_delete=models.PROTECT, null=True, blank=True, related_name="emails"
    )
    # None for emails about a person's account (invitations, password resets),
    # which name `user` instead.
    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.PROTECT, null=True, blank=True, related_name="emails"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # Distinguishes notices that are not tied to an episode (e.g. "expiry:<block>:<date>").
    topic = models.CharField(max_length=200, blank=True)
    # A document rendered when the email was recorded (e.g. a statement PDF),
    # attached as `attachment_name`; invoices are attached from `invoice`.
    attachment = models.FileField(upload_to="attachments/", blank=True, max_length=255)
    attachment_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=EmailStatus.choices, default=EmailStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["episode", "kind", "recipient"],
                condition=Q(episode__isnull=False),
                name="email_once_per_episode_recipient",
            ),
            models.UniqueConstraint(
                fields=["topic", "kind", "recipient"], condition=~Q(topic=""), name="email_once_per_topic_recipient"
            ),
            models.CheckConstraint(
                condition=~Q(status=EmailStatus.SENT) | Q(sent_at__isnull=False), name="email_sent_has_time"
            ),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="email_pending_idx"),
            models.Index(
                fields=["created_at"], condition=Q(status__in=["failed", "stuck"]), name="email_undelivered_idx"
            ),
        ]

    def __str__(self) -> str:
        return _("%(kind)s to %(recipient)s (%(status)s)") % {
            "kind": self.get_kind_display(),
            "recipient": self.recipient,
            "status": self.status,
        }


class SweepRun(models.Model):
    """The last full low-balance sweep that finished, one row per job: beat's
    heartbeat. The dashboard warns when it is older than two sweep intervals
    (beat or every worker stopped), and /metrics reports it."""

    job = models.CharField(max_length=50, unique=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    episodes_opened = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.job} {self.finished_at:%Y-%m-%d %H:%M:%S}"
