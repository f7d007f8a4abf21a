"""Reads of the recorded emails, for staff pages."""

from django.db.models import Q, QuerySet

from notifications.models import EmailStatus, OutgoingEmail

UNDELIVERED = (EmailStatus.FAILED, EmailStatus.STUCK)


def emails_undelivered(*, client: object | None = None) -> QuerySet[OutgoingEmail]:
    """Emails that failed for good or were interrupted while sending, newest
    first; with `client`, those about its agreements or to its contacts
    (invitations). Staff only: the callers are staff pages."""
    emails = OutgoingEmail.objects.filter(status__in=UNDELIVERED)
    if client is not None:
        emails = emails.filter(Q(agreement__client=client) | Q(user__client_contact__client=client))
    return emails.select_related("agreement__client", "invoice", "user").order_by("-created_at", "-pk")
