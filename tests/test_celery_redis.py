"""A real Celery worker, on a real Redis broker, runs a task against the
same PostgreSQL database the test wrote to."""

import datetime
import uuid

import pytest
from django.utils import timezone

from agreements import services
from agreements.models import LedgerEntry, LedgerKind
from agreements.tasks import expire_blocks
from agreements.tests.assertions import assert_balance_is_ledger_sum
from agreements.tests.factories import AgreementFactory, ClientFactory, StaffFactory
from blockhours.celery import app
from tests.celery_processes import wait_until, worker_and_beat

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def worker(tmp_path):
    """A worker consuming a queue of its own, so nothing else steals its tasks."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    with worker_and_beat(tmp_path, queue=queue, beat=False):
        yield queue


def test_a_worker_on_redis_expires_blocks(worker, settings):
    assert app.conf.broker_url.startswith("redis://"), "REDIS_URL must point at a real Redis"
    agreement = AgreementFactory(client=ClientFactory(name="Worker Co"))
    staff = StaffFactory(username="worker-staff")
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    block = services.block_sell(
        agreement=agreement,
        hours=2,
        actor=staff,
        starts_on=yesterday - datetime.timedelta(days=30),
        expires_on=yesterday,
    )
    services.block_mark_paid(block=block, actor=staff)

    app.conf.task_always_eager = False
    try:
        # No result backend: the effect, a ledger row, is what the test waits for.
        expire_blocks.apply_async(queue=worker)
    finally:
        app.conf.task_always_eager = True

    wait_until(lambda: LedgerEntry.objects.filter(kind=LedgerKind.EXPIRY).exists(), timeout=60, what="the expiry")
    assert LedgerEntry.objects.get(kind=LedgerKind.EXPIRY).minutes == -120
    assert assert_balance_is_ledger_sum(agreement) == 0
