"""When a reload is due: the hours the client has bought (credited) fall to
the threshold, and no hours are already on their way (sold, awaiting payment)."""

import datetime
import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from agreements import services as agreement_services
from agreements.models import OveragePolicy
from agreements.tests.factories import AgreementFactory, tier
from billing import services as billing_services
from billing.models import Invoice, InvoiceKind
from notifications.models import Episode
from notifications.tests.conftest import sweep_now


def test_a_first_block_awaiting_payment_raises_no_reload_and_no_email(client_a, alice, seller, msp_staff):
    agreement = AgreementFactory(client=client_a)
    billing_services.invoice_sell_block(agreement=agreement, tier=tier(20), actor=msp_staff)

    output = sweep_now()

    assert list(Invoice.objects.values_list("kind", flat=True)) == [InvoiceKind.BLOCK]
    assert not Episode.objects.exists()
    assert mail.outbox == []
    assert "Episodes opened: 0" in output


def test_an_agreement_with_no_block_at_all_raises_no_reload_and_no_alert(client_a, alice, seller, msp_staff):
    AgreementFactory(client=client_a)
    AgreementFactory(client=client_a, name="Projects", overage_policy=OveragePolicy.REJECT)

    sweep_now()

    assert not Invoice.objects.exists()
    assert not Episode.objects.exists()
    assert mail.outbox == []


def test_the_first_block_paid_and_used_down_raises_the_reload(client_a, alice, seller, msp_staff):
    agreement = AgreementFactory(client=client_a, billing_increment_minutes=1)
    invoice = billing_services.invoice_sell_block(agreement=agreement, tier=tier(10), actor=msp_staff)
    sweep_now()
    billing_services.payment_record(
        invoice=invoice,
        amount="1000.00",
        paid_on=timezone.localdate(),
        method="ach",
        reference="ACH-1",
        actor=msp_staff,
    )
    from notifications.tests.conftest import use_hours

    use_hours(agreement, 480)

    sweep_now()

    episode = Episode.objects.get()
    assert (episode.balance_at_open, episode.reload_invoice.kind) == (120, InvoiceKind.RELOAD)


def test_hours_sold_and_awaiting_payment_hold_off_the_reload_until_their_sale_is_voided(make_low_agreement, msp_staff):
    agreement = make_low_agreement(left=60)
    waiting = billing_services.invoice_sell_block(agreement=agreement, tier=tier(10), actor=msp_staff)

    sweep_now()
    assert not Episode.objects.exists()
    assert mail.outbox == []

    billing_services.invoice_void(invoice=waiting, actor=msp_staff, reason="Client changed their mind")
    sweep_now()

    episode = Episode.objects.get()
    assert episode.reload_invoice.kind == InvoiceKind.RELOAD
    assert episode.reload_invoice.block.minutes == 1200


def test_a_reload_awaiting_payment_keeps_its_episode_open_so_nothing_more_is_sold(make_low_agreement):
    agreement = make_low_agreement(left=60)
    sweep_now()
    sweep_now()
    sweep_now()

    episode = Episode.objects.get()
    assert episode.is_open
    assert Invoice.objects.filter(agreement=agreement, kind=InvoiceKind.RELOAD).count() == 1


def test_a_block_that_has_not_started_yet_still_counts_as_on_its_way(make_low_agreement, msp_staff):
    agreement = make_low_agreement(left=60)
    block = agreement_services.block_sell(
        agreement=agreement,
        tier=tier(10),
        actor=msp_staff,
        starts_on=timezone.localdate() + datetime.timedelta(days=3),
    )
    assert block.credited_at is None

    sweep_now()

    assert not Episode.objects.exists()


@pytest.mark.django_db(transaction=True)  # the command commits as it goes, as when run by hand
def test_the_command_counts_only_the_episodes_it_processed_itself(make_low_agreement, monkeypatch):
    from notifications import services

    make_low_agreement(left=60)
    real = services.episode_process

    def a_worker_got_there_first(*, episode_id, send):
        real(episode_id=episode_id, send=send)
        return real(episode_id=episode_id, send=send)

    monkeypatch.setattr(services, "episode_process", a_worker_got_there_first)
    out = io.StringIO()
    call_command("sweep_low_balances", stdout=out)
    output = out.getvalue()

    assert "episode" in output and ": already processed" in output
    assert "Done: 0 episode(s) processed (1 already handled elsewhere)" in output
    assert Invoice.objects.filter(kind=InvoiceKind.RELOAD).count() == 1


# --- near the end of a term -------------------------------------------------------


def test_no_reload_is_sold_near_the_end_of_a_term_and_staff_are_told(make_low_agreement, settings):
    settings.RELOAD_STOPS_DAYS_BEFORE_TERM_END = 30
    agreement = make_low_agreement(left=90, ends_on=timezone.localdate() + datetime.timedelta(days=7))

    sweep_now()

    assert not Invoice.objects.filter(kind=InvoiceKind.RELOAD).exists()
    assert agreement.blocks.count() == 1
    episode = Episode.objects.get()
    assert episode.processed_at is not None and episode.reload_invoice is None
    (alert,) = mail.outbox
    assert alert.to == ["owner@northwind.example"]
    assert alert.subject == (
        f"Low balance: Acme Dental has 1 h 30 min left — the term ends on {agreement.ends_on:%-d %B %Y}, no reload sold"
    )
    assert "in 7 days" in alert.body and "so none was sold and the client was not told" in alert.body

    sweep_now()
    assert len(mail.outbox) == 1  # one alert per episode


def test_a_term_ending_after_the_window_still_gets_its_reload(make_low_agreement, settings):
    settings.RELOAD_STOPS_DAYS_BEFORE_TERM_END = 30
    agreement = make_low_agreement(left=90, ends_on=timezone.localdate() + datetime.timedelta(days=31))

    sweep_now()

    reload = Invoice.objects.get(kind=InvoiceKind.RELOAD)
    assert reload.block.expires_on == agreement.ends_on


def test_the_window_is_a_setting(make_low_agreement, settings):
    settings.RELOAD_STOPS_DAYS_BEFORE_TERM_END = 0
    make_low_agreement(left=90, ends_on=timezone.localdate() + datetime.timedelta(days=7))

    sweep_now()

    assert Invoice.objects.filter(kind=InvoiceKind.RELOAD).count() == 1


# --- what the reload email says, under each credit policy ---------------------------


def test_under_the_usable_at_once_policy_the_email_says_the_hours_were_added(make_low_agreement):
    from agreements.models import CreditPolicy

    agreement = make_low_agreement(left=60, credit_policy=CreditPolicy.IMMEDIATE)

    sweep_now()

    agreement.refresh_from_db()
    assert agreement.balance_minutes == 60 + 1200
    client_mail = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    assert "we have added a new 20-hour support block to your balance straight away" in client_mail.body
    assert "Balance now: 21 h" in client_mail.body
    assert "once paid" not in client_mail.body and "as soon as it is paid" not in client_mail.body
    assert "payment method on file" not in client_mail.body
    staff_mail = next(m for m in mail.outbox if m.to == ["owner@northwind.example"])
    assert "credited at once" in staff_mail.body and "usable when it is paid" not in staff_mail.body


def test_under_the_usable_when_paid_policy_the_email_says_the_hours_come_once_paid(make_low_agreement):
    make_low_agreement(left=60)

    sweep_now()

    client_mail = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    assert "1 h remain" in client_mail.body
    assert "The new hours become available as soon as it is paid." in client_mail.body


def test_an_episode_of_an_agreement_cancelled_before_it_was_processed_sells_nothing(make_low_agreement, msp_staff):
    from billing.credit_notes import Disposition, agreement_cancel
    from notifications import services

    agreement = make_low_agreement(left=60)
    episode = services.episode_open(agreement=agreement)
    agreement_cancel(agreement=agreement, disposition=Disposition.FORFEIT, actor=msp_staff, reason="Client leaves")

    outcome = services.episode_process(episode_id=episode.pk, send=lambda email_id: None)

    episode.refresh_from_db()
    assert outcome == "agreement ended"
    assert episode.closed_at is not None and episode.processed_at is None
    assert not Invoice.objects.filter(kind=InvoiceKind.RELOAD).exists()
    assert not episode.emails.exists()
