"""The collector's own telemetry, in Prometheus' text format at ``GET /metrics``.

Counters of what arrived and what was refused are kept here as events happen; the spool's
and the writer's figures are read from them at scrape time, so there is one source of truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .writer import StoreWriter

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# HTTP status -> the reason label of a refused request.
REASONS = {
    400: "malformed",
    401: "unauthenticated",
    403: "forbidden",
    413: "too_large",
    415: "unsupported_media_type",
    503: "busy",
}


class Metrics:
    """One registry per app (tests build many apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.received = Counter(
            "spyglass_received",
            "Spans and feedback events accepted (acknowledged to the client).",
            ["signal"],
            registry=self.registry,
        )
        self.rejected_items = Counter(
            "spyglass_rejected_items",
            "Spans refused inside an otherwise accepted request (OTLP partial success).",
            ["signal"],
            registry=self.registry,
        )
        self.rejected_requests = Counter(
            "spyglass_rejected_requests",
            "Requests refused as a whole, by reason.",
            ["signal", "reason"],
            registry=self.registry,
        )
        self.store_write_seconds = Histogram(
            "spyglass_store_write_seconds",
            "Time of one INSERT into the store.",
            ["table"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )

    def refused(self, signal: str, status: int) -> None:
        self.rejected_requests.labels(signal, REASONS.get(status, str(status))).inc()

    def watch(self, writer: StoreWriter) -> None:
        """Report the spool's and the writer's figures at every scrape."""
        self.registry.register(_WriterCollector(writer))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _WriterCollector(Collector):
    def __init__(self, writer: StoreWriter) -> None:
        self._writer = writer

    def collect(self) -> Iterator[Metric]:
        spool = self._writer.spool
        spooled = CounterMetricFamily("spyglass_spooled_rows", "Rows written to the spool.", labels=["table"])
        for table, n in spool.appended_rows.items():
            spooled.add_metric([table], n)
        replayed = CounterMetricFamily(
            "spyglass_replayed_rows", "Rows found in the spool at start and written since.", labels=["table"]
        )
        for table, n in spool.replayed_rows.items():
            replayed.add_metric([table], n)
        quarantined = CounterMetricFamily(
            "spyglass_quarantined_rows",
            "Rows the store refused on their own, kept in the spool's quarantine directory.",
            labels=["table"],
        )
        for table, n in spool.quarantined_rows.items():
            quarantined.add_metric([table], n)
        written = CounterMetricFamily(
            "spyglass_written_rows", "Rows inserted into the store.", labels=["table"]
        )
        for table, n in self._writer.rows_written.items():
            written.add_metric([table], n)
        yield spooled
        yield replayed
        yield written
        yield quarantined
        yield CounterMetricFamily(
            "spyglass_store_write_failures", "Failed INSERTs (retried).", value=self._writer.write_failures
        )
        yield GaugeMetricFamily(
            "spyglass_store_up", "1 if the last INSERT succeeded.", value=int(self._writer.store_ok)
        )
        yield GaugeMetricFamily("spyglass_spool_bytes", "Bytes in the spool.", value=spool.depth_bytes)
        yield GaugeMetricFamily("spyglass_spool_max_bytes", "The spool's bound.", value=spool.max_bytes)
        yield GaugeMetricFamily(
            "spyglass_spool_rows", "Rows acknowledged but not yet in the store.", value=spool.depth_rows
        )
