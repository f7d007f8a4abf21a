import datetime

from django.core import mail
from django.test import TestCase
from django.utils import timezone

from agreements import services as agreement_services
from agreements.tests.factories import AgreementFactory, tier
from notifications import services
from notifications.models import EmailKind, EmailStatus, Episode, EpisodeKind, OutgoingEmail
from notifications.tests.conftest import sweep_now, use_hours

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


def record_notices(today=TODAY) -> services.NoticeReport:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return services.expiry_notices_record(today=today, send=lambda pk: services.email_send(email_id=pk))


def test_the_usage_alert_goes_once_when_the_share_of_the_latest_block_is_reached(make_low_agreement):
    agreement = make_low_agreement(left=600 - 470, usage_alert_percent=80)  # 470 of 600 used: 78 %
    agreement.low_balance_threshold_minutes = 60
    agreement.save()
    sweep_now()
    assert not Episode.objects.filter(kind=EpisodeKind.USAGE).exists()

    use_hours(agreement, 10)  # 480 of 600: 80 %
    sweep_now()
    sweep_now()
    alerts = OutgoingEmail.objects.filter(kind=EmailKind.USAGE_ALERT)
    assert sorted(alerts.values_list("recipient", flat=True)) == [
        "alice@example.com",
        "billing@acme-dental.example",
        "bob@example.com",
    ]
    message = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    assert message.subject == "Acme Dental: 80% of your latest block of support hours is used"
    assert "used 8 h of its latest block of 10 hours" in message.body and "remaining balance is 2 h" in message.body

    # A new block resets the share: the episode closes; a later 80 % opens a new one.
    block = agreement_services.block_sell(agreement=agreement, tier=tier(10), actor=None)
    agreement_services.block_mark_paid(block=block)
    sweep_now()
    assert not Episode.objects.get(kind=EpisodeKind.USAGE).is_open


def test_expiring_hours_and_ending_terms_are_announced_once(client_a, alice, seller, msp_staff, settings):
    settings.EXPIRY_NOTICE_DAYS = 14
    agreement = AgreementFactory(client=client_a, starts_on=TODAY - 300 * DAY, ends_on=TODAY + 10 * DAY)
    block = agreement_services.block_sell(agreement=agreement, tier=tier(10), actor=None, starts_on=TODAY - 300 * DAY)
    agreement_services.block_mark_paid(block=block)
    far = AgreementFactory(client=client_a, starts_on=TODAY - 10 * DAY)
    agreement_services.block_mark_paid(
        block=agreement_services.block_sell(agreement=far, hours=5, actor=None, expires_on=TODAY + 60 * DAY)
    )

    report = record_notices()
    assert report.recorded == len(OutgoingEmail.objects.all())
    expiry = OutgoingEmail.objects.filter(kind=EmailKind.EXPIRY_NOTICE)
    assert sorted(expiry.values_list("recipient", flat=True)) == ["alice@example.com", "billing@acme-dental.example"]
    assert expiry.first().subject == f"Acme Dental: 10 h of prepaid support expire on {block.expires_on:%-d %B %Y}"
    renewal = OutgoingEmail.objects.filter(kind=EmailKind.RENEWAL_NOTICE)
    assert sorted(renewal.values_list("recipient", flat=True)) == [
        "alice@example.com",
        "billing@acme-dental.example",
        "owner@northwind.example",
    ]
    assert (
        "in 10 days" in renewal.first().body_text and "unused hours expire with the term" in renewal.first().body_text
    )
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {EmailStatus.SENT}
    sent = len(mail.outbox)

    assert record_notices(TODAY + DAY).recorded == 0  # the next day: nothing again
    assert len(mail.outbox) == sent == 5


def test_no_expiry_notice_for_a_block_with_nothing_left(client_a, alice, seller, technician, ticket):
    agreement = AgreementFactory(client=client_a, starts_on=TODAY - 30 * DAY)
    block = agreement_services.block_sell(
        agreement=agreement, hours=1, actor=None, starts_on=TODAY - 30 * DAY, expires_on=TODAY + 5 * DAY
    )
    agreement_services.block_mark_paid(block=block)
    use_hours(agreement, 60)
    assert record_notices().recorded == 0


def test_a_notice_with_an_attachment_is_recorded_once_and_sent_with_it(agreement):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    stored = default_storage.save("attachments/test-statement.pdf", ContentFile(b"%PDF-1.7 statement"))

    def record() -> list[int]:
        return services.notice_record(
            agreement_id=agreement.pk,
            kind=EmailKind.EXPIRY_NOTICE,
            topic=f"test:{agreement.public_id}",
            recipients=["ap@acme.example"],
            context={"block": None, "unused": "1 h", "days_left": 3},
            attachment=(stored, "Statement-2026-02.pdf"),
        )

    (email_id,) = record()
    assert record() == []  # same topic, kind and recipient: nothing new
    assert services.email_send(email_id=email_id).outcome == "sent"
    assert mail.outbox[0].attachments == [("Statement-2026-02.pdf", b"%PDF-1.7 statement", "application/pdf")]
