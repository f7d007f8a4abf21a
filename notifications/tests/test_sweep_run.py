"""The sweep's heartbeat: each full sweep stores when it finished, so staff
see on the dashboard when beat or the workers stopped."""

import datetime
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import SweepRun
from notifications.selectors import sweep_interval, sweep_status
from notifications.tasks import check_agreement
from notifications.tests.conftest import sweep_now

pytestmark = pytest.mark.django_db


def test_a_full_sweep_stores_when_it_finished_and_what_it_opened(make_low_agreement):
    make_low_agreement(left=90)
    make_low_agreement(left=30)
    before = timezone.now()

    sweep_now()

    run = SweepRun.objects.get()
    assert (run.job, run.episodes_opened) == ("low_balance", 2)
    assert before <= run.started_at <= run.finished_at <= timezone.now()
    assert run.duration_ms == pytest.approx((run.finished_at - run.started_at).total_seconds() * 1000, abs=5)


def test_the_next_sweep_replaces_it(make_low_agreement):
    make_low_agreement(left=90)
    sweep_now()
    first = SweepRun.objects.get()

    sweep_now()

    run = SweepRun.objects.get()
    assert run.episodes_opened == 0
    assert run.finished_at > first.finished_at


def test_checking_one_agreement_is_not_a_sweep(make_low_agreement):
    agreement = make_low_agreement(left=90)
    check_agreement.delay(agreement.pk)
    assert agreement.episodes.count() == 1
    assert not SweepRun.objects.exists()


def test_the_interval_comes_from_the_beat_schedule(settings):
    assert sweep_interval() == datetime.timedelta(seconds=settings.LOW_BALANCE_SWEEP_SECONDS)
    settings.CELERY_BEAT_SCHEDULE = {"sweep-low-balances": {"schedule": datetime.timedelta(minutes=5)}}
    assert sweep_interval() == datetime.timedelta(minutes=5)


def _finished(ago: datetime.timedelta) -> SweepRun:
    finished = timezone.now() - ago
    return SweepRun.objects.create(
        job="low_balance", started_at=finished, finished_at=finished, duration_ms=10, episodes_opened=0
    )


def test_it_is_overdue_after_two_intervals_or_when_it_never_ran(settings):
    settings.CELERY_BEAT_SCHEDULE = {"sweep-low-balances": {"schedule": 600}}
    now = timezone.now()
    assert sweep_status(now=now).overdue  # never ran
    run = _finished(datetime.timedelta(0))
    assert not sweep_status(now=run.finished_at + datetime.timedelta(minutes=20)).overdue
    assert sweep_status(now=run.finished_at + datetime.timedelta(minutes=20, seconds=1)).overdue


def test_the_dashboard_shows_the_last_sweep(client, msp_staff, settings):
    settings.TIME_ZONE = "UTC"
    run = _finished(datetime.timedelta(minutes=3))
    client.force_login(msp_staff)
    page = client.get(reverse("dashboard:home"))
    assert page.status_code == HTTPStatus.OK
    html = page.content.decode()
    assert f"Low-balance sweep last finished on {run.finished_at:%d %b %Y %H:%M}." in html
    assert "alert-warning" not in html


def test_the_dashboard_warns_when_the_sweep_is_older_than_two_intervals(client, msp_staff, settings):
    settings.TIME_ZONE = "UTC"
    run = _finished(datetime.timedelta(seconds=2 * settings.LOW_BALANCE_SWEEP_SECONDS + 60))
    client.force_login(msp_staff)
    html = client.get(reverse("dashboard:home")).content.decode()
    assert (
        f"The low-balance sweep last finished on {run.finished_at:%d %b %Y %H:%M}, more than two sweep intervals "
        "ago: no reload invoices are being raised. Check that Celery beat and a worker are running."
    ) in html


def test_the_dashboard_warns_when_the_sweep_never_ran(client, msp_staff):
    client.force_login(msp_staff)
    html = client.get(reverse("dashboard:home")).content.decode()
    assert "The low-balance sweep has never finished: no reload invoices are being raised." in html
