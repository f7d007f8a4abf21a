"""The cached burn under real concurrency (PostgreSQL): the day's recount
that meets an entry being logged across midnight still counts that entry."""

import datetime
import threading
import time

import pytest
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from agreements import services
from agreements.models import Agreement
from agreements.runway import burn_recompute
from agreements.tests.factories import (
    AgreementFactory,
    ClientFactory,
    StaffFactory,
    TechnicianFactory,
    TicketFactory,
    work_type,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        return cursor.fetchone()[0] > 0


def test_the_new_days_recount_waits_for_an_entry_being_logged_and_counts_it():
    today = timezone.localdate()
    tomorrow = today + datetime.timedelta(days=1)
    staff = StaffFactory(username="ops")
    agreement = AgreementFactory(client=ClientFactory(name="Midnight Co"))
    services.ledger_adjust(agreement=agreement, minutes=6000, reason="Opening balance", author=staff)
    technician = TechnicianFactory(username="late")
    ticket = TicketFactory(client=agreement.client)
    services.time_entry_log(
        agreement=agreement, technician=technician, ticket=ticket, work_date=today, minutes=60, work_type=work_type()
    )
    assert Agreement.objects.get(pk=agreement.pk).burn_computed_on == today  # the entry's own day

    logged, release, errors = threading.Event(), threading.Event(), []

    def log_before_midnight_commit_after() -> None:
        try:
            with transaction.atomic():
                services.time_entry_log(
                    agreement=agreement,
                    technician=technician,
                    ticket=ticket,
                    work_date=today,
                    minutes=90,
                    work_type=work_type(),
                )
                logged.set()
                release.wait(30)  # still holding the agreement's row lock
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            connection.close()

    def recount_for_the_new_day() -> None:
        try:
            burn_recompute(today=tomorrow, stale_only=True)
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            connection.close()

    entry = threading.Thread(target=log_before_midnight_commit_after)
    entry.start()
    assert logged.wait(30)
    recount = threading.Thread(target=recount_for_the_new_day)
    recount.start()
    for _ in range(100):  # the recount blocks on the entry's row lock
        if waiting_on_a_lock():
            break
        time.sleep(0.05)
    assert waiting_on_a_lock()
    release.set()
    entry.join(30)
    recount.join(30)
    close_old_connections()

    assert errors == []
    counted = Agreement.objects.get(pk=agreement.pk)
    # Both entries (60 + 90, each charged as worked) are in tomorrow's window.
    assert (counted.burn_minutes, counted.burn_computed_on) == (150, tomorrow)
