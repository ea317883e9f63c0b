"""Prometheus metrics of the outbox relay and the event consumers.

The metrics live in the process-wide default registry, which every service's ``GET /metrics``
already exposes (see :mod:`agora_chassis.metrics`), so relays and consumers need no handle on their
app. They are created once per process; services and consumer groups differ by label.

* ``agora_events_published_total{service,event_type}``: outbox rows the broker confirmed.
* ``agora_events_publish_failures_total{service,event_type}``: publish attempts that failed.
* ``agora_events_consumed_total{group,event_type,outcome}``: events a handler's transaction
  committed, ``outcome`` ``applied`` or ``duplicate`` (the inbox already had the id); replays count.
* ``agora_events_retried_total{group,event_type}``: tries started again after a failed one.
* ``agora_events_dead_lettered_total{group,event_type,reason}``: messages stored as dead letters,
  ``reason`` ``failed`` (all tries failed), ``permanent`` or ``undecodable``.
* ``agora_outbox_pending{service}`` and ``agora_outbox_oldest_pending_age_seconds{service}``: the
  outbox backlog, as of the relay's last pass (at most its poll interval, or its backoff while the
  broker is down, old). Every relay instance of a service reports the same table: aggregate with
  ``max``, not ``sum``.

Label values are bounded: service and group names, event types the consumer has a handler for
(others are ``unknown``), never ids.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

UNKNOWN = "unknown"

APPLIED = "applied"
DUPLICATE = "duplicate"

FAILED = "failed"
PERMANENT = "permanent"
UNDECODABLE = "undecodable"

published = Counter(
    "agora_events_published",
    "Outbox rows published and confirmed by the broker.",
    ["service", "event_type"],
)
publish_failures = Counter(
    "agora_events_publish_failures",
    "Failed attempts to publish an outbox row (a later relay pass tries again).",
    ["service", "event_type"],
)
consumed = Counter(
    "agora_events_consumed",
    "Events processed by a consumer group: applied, or dropped as a duplicate by the inbox.",
    ["group", "event_type", "outcome"],
)
retried = Counter(
    "agora_events_retried",
    "Handler tries started again after a failed try.",
    ["group", "event_type"],
)
postponed = Counter(
    "agora_events_postponed",
    "Handler tries that asked to wait for a dependency (Postpone): retried later, never dead.",
    ["group", "event_type"],
)
dead_lettered = Counter(
    "agora_events_dead_lettered",
    "Messages stored as dead letters, by reason (failed, permanent, undecodable).",
    ["group", "event_type", "reason"],
)
outbox_pending = Gauge(
    "agora_outbox_pending",
    "Outbox rows not yet published, as of the relay's last pass.",
    ["service"],
)
outbox_oldest_age = Gauge(
    "agora_outbox_oldest_pending_age_seconds",
    "Age of the oldest unpublished outbox row (0 when none), as of the relay's last pass.",
    ["service"],
)


def service_label(source: str) -> str:
    """The ``service`` label of a relay's source: ``/agora/identity`` gives ``identity``.

    Args:
        source: The producing service, as given to the relay.

    Returns:
        Its last path segment, or ``unknown`` when it has none.
    """
    return source.rstrip("/").rsplit("/", 1)[-1] or UNKNOWN
