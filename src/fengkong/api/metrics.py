"""Prometheus metrics of the decision API (one registry per app, so tests can run many)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class DriftSource(Protocol):
    def drift_gauges(self) -> dict[str, float]: ...

    def drift_alert(self) -> bool: ...


class _DriftCollector(Collector):
    def __init__(self, source: DriftSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        psi = GaugeMetricFamily(
            "fengkong_model_psi",
            "Population stability index of the champion's score and inputs, live vs training.",
            labels=["variable"],
        )
        for name, value in sorted(self.source.drift_gauges().items()):
            psi.add_metric([name], value)
        yield psi
        yield GaugeMetricFamily(
            "fengkong_model_drift_alert",
            "1 when any PSI is above the alert threshold (0.25).",
            value=float(self.source.drift_alert()),
        )


class RepairSource(Protocol):
    def repair_counters(self) -> list[tuple[str, str, float]]: ...


class _RepairCollector(Collector):
    def __init__(self, source: RepairSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        for name, text, value in self.source.repair_counters():
            yield CounterMetricFamily(name, text, value=value)


# The *_created series only add noise to scrapes of counters that never reset.
disable_created_metrics()  # type: ignore[no-untyped-call]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    """Decision counts by outcome, rejected requests by reason, decision latency."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "fengkong_decisions",
            "Decisions returned, by outcome (retries of a stored event included).",
            ["decision"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "fengkong_rejected_requests",
            "Requests refused, by HTTP status.",
            ["status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "fengkong_decision_latency_seconds",
            "Time from a received request to its answer, durable write included.",
            registry=self.registry,
            buckets=_LATENCY_BUCKETS,
        )

    def watch_drift(self, source: DriftSource) -> None:
        """Export a model stage's drift (PSI per variable, alert flag) at each scrape."""
        self.registry.register(_DriftCollector(source))

    def watch_repair(self, source: RepairSource) -> None:
        """Export the state repair's counters (rounds run, events recounted)."""
        self.registry.register(_RepairCollector(source))

    def render(self) -> bytes:
        return generate_latest(self.registry)
