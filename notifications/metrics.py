"""Figures the database knows, read when /metrics is scraped: right whichever
web process answers, and nothing to add up across processes."""

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from notifications.models import EmailStatus, Episode, EpisodeKind, OutgoingEmail
from notifications.selectors import sweep_status

log = logging.getLogger(__name__)


class NotificationsCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        # Read all at once: with the database down, /metrics still serves the
        # process metrics (and /readyz names the database).
        try:
            metrics = list(self._from_database())
        except DatabaseError as error:
            log.warning("Metrics: database figures left out: %s", error)
            return
        yield from metrics

    def _from_database(self) -> Iterator[Metric]:
        emails = GaugeMetricFamily("blockhours_emails", "Recorded emails by status.", labels=["status"])
        counts = dict(OutgoingEmail.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
        for status in EmailStatus.values:
            emails.add_metric([status], counts.get(status, 0))
        yield emails

        # Episodes are never deleted, so their number only grows: a counter.
        opened = CounterMetricFamily(
            "blockhours_episodes_opened", "Low-balance, exhausted and usage episodes opened.", labels=["kind"]
        )
        counts = dict(Episode.objects.values_list("kind").annotate(n=Count("pk")).values_list("kind", "n"))
        for kind in EpisodeKind.values:
            opened.add_metric([kind], counts.get(kind, 0))
        yield opened

        status = sweep_status()
        if status.last is not None:
            yield GaugeMetricFamily(
                "blockhours_low_balance_sweep_duration_seconds",
                "How long the last full low-balance sweep took.",
                value=status.last.duration_ms / 1000,
            )
            yield GaugeMetricFamily(
                "blockhours_low_balance_sweep_last_finished_timestamp_seconds",
                "When the last full low-balance sweep finished (Unix time).",
                value=status.last.finished_at.timestamp(),
            )
            yield GaugeMetricFamily(
                "blockhours_low_balance_sweep_last_episodes_opened",
                "Episodes the last full low-balance sweep opened.",
                value=status.last.episodes_opened,
            )
        yield GaugeMetricFamily(
            "blockhours_low_balance_sweep_overdue",
            "1 when no full sweep finished within two sweep intervals (beat or the workers stopped).",
            value=int(status.overdue),
        )
