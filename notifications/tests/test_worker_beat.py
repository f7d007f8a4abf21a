"""The whole loop with real processes: Celery beat on a one-second schedule,
a worker on Redis, a real SMTP server. An agreement falls to its threshold;
the reload invoice and its emails appear, once."""

import time
import uuid

import pytest

from billing.models import Invoice
from notifications.models import EmailStatus, Episode, OutgoingEmail
from notifications.tests.smtp import free_port, start_smtp
from tests.celery_processes import worker_and_beat

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def test_beat_and_a_worker_send_the_reload_invoice_once(make_low_agreement, tmp_path):
    agreement = make_low_agreement(left=45)
    port = free_port()
    controller, inbox = start_smtp(port)
    env = {
        "LOW_BALANCE_SWEEP_SECONDS": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    try:
        with worker_and_beat(tmp_path, queue=f"test-{uuid.uuid4().hex[:8]}", extra_env=env):
            delivered = wait_for(lambda: len(inbox.messages) >= 4)
            time.sleep(3)  # a few more sweeps run: they must send nothing more
    finally:
        controller.stop()
    logs = "\n".join((tmp_path / name).read_text() for name in ("worker.log", "beat.log"))
    assert delivered, logs[-4000:]
    assert Episode.objects.get().agreement == agreement
    invoice = Invoice.objects.get()
    assert len(inbox.messages) == 4
    assert {tuple(rcpt) for rcpt, _ in inbox.messages} == {
        ("alice@example.com",),
        ("bob@example.com",),
        ("billing@acme-dental.example",),
        ("owner@northwind.example",),
    }
    assert all(invoice.number in msg["Subject"] for _, msg in inbox.messages)
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {EmailStatus.SENT}
    assert "Sending due task sweep-low-balances" in logs


def test_beat_sweeps_as_soon_as_it_starts(tmp_path):
    from notifications.models import SweepRun

    env = {"LOW_BALANCE_SWEEP_SECONDS": "3600", "MEDIA_ROOT": str(tmp_path / "media")}
    with worker_and_beat(tmp_path, queue=f"test-{uuid.uuid4().hex[:8]}", extra_env=env):
        swept = wait_for(lambda: SweepRun.objects.exists(), timeout=45)
    logs = "\n".join((tmp_path / name).read_text() for name in ("worker.log", "beat.log"))
    assert swept, logs[-4000:]
