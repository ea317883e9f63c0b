"""Prometheus metrics of outgoing service calls, labelled by target (``catalog``, ``psp``).

============================================  ==============================================
metric                                        meaning
============================================  ==============================================
``service_client_calls_total``                calls by ``outcome``: ``ok``, ``error`` (the
{target, outcome}                             target answered with a permanent error),
                                              ``unavailable`` (transient failure, attempts or
                                              time used up), ``rejected`` (breaker open)
``service_client_call_duration_seconds``      time of a whole call, retries included
{target}
``service_client_retries_total{target}``      attempts after the first
``service_client_breaker_state{target}``      0 closed, 1 half-open, 2 open
``service_client_breaker_transitions_total``  changes of breaker state, by the state entered
{target, state}
============================================  ==============================================

Targets are few and fixed (one per called service), so the series stay bounded; no label
carries a path or a method. The metrics live in the process-wide default registry unless a test
passes its own; ``/metrics`` of every service app already exposes that registry.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from agora_chassis.breaker import BreakerState
from agora_chassis.metrics import DURATION_BUCKETS_SECONDS

Outcome = Literal["ok", "error", "unavailable", "rejected"]


class ClientMetrics:
    """The metric set of outgoing calls, shared by every :class:`ServiceClient` of a process.

    Args:
        registry: Where to register; the default registry when ``None``.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = REGISTRY if registry is None else registry
        self.calls = Counter(
            "service_client_calls_total",
            "Outgoing service calls, by target and outcome.",
            ["target", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "service_client_call_duration_seconds",
            "Time of an outgoing service call, every retry included.",
            ["target"],
            buckets=DURATION_BUCKETS_SECONDS,
            registry=registry,
        )
        self.retries = Counter(
            "service_client_retries_total",
            "Attempts of outgoing service calls after the first, by target.",
            ["target"],
            registry=registry,
        )
        self.breaker_state = Gauge(
            "service_client_breaker_state",
            "Circuit breaker state per target: 0 closed, 1 half-open, 2 open.",
            ["target"],
            registry=registry,
        )
        self.breaker_transitions = Counter(
            "service_client_breaker_transitions_total",
            "Circuit breaker state changes per target, by the state entered.",
            ["target", "state"],
            registry=registry,
        )
        # ``labels()`` takes a lock and builds the label tuple each time: keep the children.
        self._calls: dict[tuple[str, Outcome], Counter] = {}
        self._durations: dict[str, Histogram] = {}

    def observe_call(self, target: str, outcome: Outcome, seconds: float) -> None:
        """Count one finished call and its duration."""
        key = (target, outcome)
        if (counter := self._calls.get(key)) is None:
            counter = self._calls[key] = self.calls.labels(target, outcome)
        if (histogram := self._durations.get(target)) is None:
            histogram = self._durations[target] = self.duration.labels(target)
        counter.inc()
        histogram.observe(seconds)

    def observe_retry(self, target: str) -> None:
        """Count one retry."""
        self.retries.labels(target).inc()

    def observe_state(self, target: str, state: BreakerState) -> None:
        """Set the breaker state gauge (also at start, so the series exists before a failure)."""
        self.breaker_state.labels(target).set(state.value)

    def observe_transition(self, target: str, new: BreakerState) -> None:
        """Record a change of breaker state."""
        self.breaker_transitions.labels(target, new.label).inc()
        self.observe_state(target, new)


@cache
def default_client_metrics() -> ClientMetrics:
    """The process's metric set in the default registry, created on first use."""
    return ClientMetrics()
