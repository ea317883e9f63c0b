"""Messaging metrics: publish, consume, retry and dead-letter counters, and the outbox backlog."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agora_chassis.app import create_service_app
from agora_chassis.messaging import (
    Broker,
    EventConsumer,
    PermanentFailure,
    RetryPolicy,
    make_broker,
    relay_batch,
    start_relay,
)
from agora_chassis.messaging import relay as relay_module
from agora_chassis.messaging.redelivery import Attempt
from agora_chassis.messaging.relay import observe_backlog
from agora_chassis.outbox import add_event, build_event
from agora_chassis.settings import ServiceSettings
from agora_chassis.state import service_state
from agora_cli.infra.ports import free_port
from agora_contracts.envelope import CloudEvent
from libs.chassis.tests.messaging.support import (
    DeadLetter,
    Effect,
    InboxMessage,
    OutboxMessage,
    payload_class,
    wait_for,
)

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05)
BACKDATE_SECONDS = 60.0
METRIC_NAMES = (
    "agora_events_published_total",
    "agora_events_publish_failures_total",
    "agora_events_consumed_total",
    "agora_events_retried_total",
    "agora_events_dead_lettered_total",
    "agora_outbox_pending",
    "agora_outbox_oldest_pending_age_seconds",
)


def sample(name: str, **labels: str) -> float:
    """The current value of a sample in the default registry (0 when it was never set)."""
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def handling(failures: int = 0, error: type[Exception] = RuntimeError) -> Any:
    """A handler that fails its first ``failures`` calls, then writes an effect."""
    calls = 0

    async def handle(session: AsyncSession, _payload: Any, event: CloudEvent) -> None:
        nonlocal calls
        calls += 1
        if calls <= failures:
            raise error(f"boom {calls}")
        session.add(Effect(event_id=event.id))

    return handle


class Scenario:
    """A broker-less consumer on a fresh group and event type, and its counters."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], fresh_type: str, handler: Any
    ) -> None:
        self.group = f"group-{uuid.uuid4().hex[:8]}"
        self.event_type = fresh_type
        self.payload_type = payload_class(fresh_type)
        self.consumer = EventConsumer(
            None,
            sessionmaker,
            group=self.group,
            inbox_model=InboxMessage,
            dead_letter_model=DeadLetter,
            retry=FAST_RETRY,
        )
        self.consumer.handler(self.payload_type)(handler)

    def event(self) -> bytes:
        payload = self.payload_type(thing_id=uuid.uuid4())
        return build_event(payload, source="/agora/test").model_dump_json().encode()

    def consumed(self, outcome: str) -> float:
        labels = {"group": self.group, "event_type": self.event_type, "outcome": outcome}
        return sample("agora_events_consumed_total", **labels)

    def retried(self) -> float:
        labels = {"group": self.group, "event_type": self.event_type}
        return sample("agora_events_retried_total", **labels)

    def dead_lettered(self, reason: str, event_type: str | None = None) -> float:
        labels = {"group": self.group, "event_type": event_type or self.event_type}
        return sample("agora_events_dead_lettered_total", **labels, reason=reason)

    def counters(self) -> tuple[float, float, float, float]:
        """(applied, duplicate, retried, dead-lettered as failed)."""
        return (
            self.consumed("applied"),
            self.consumed("duplicate"),
            self.retried(),
            self.dead_lettered("failed"),
        )


async def test_metrics_consumed_event_counts_applied(
    sessionmaker: async_sessionmaker[AsyncSession], fresh_type: str
) -> None:
    scenario = Scenario(sessionmaker, fresh_type, handling())
    assert await scenario.consumer.deliver(scenario.event()) is True
    assert scenario.counters() == (1, 0, 0, 0)


async def test_metrics_duplicate_event_counts_duplicate(
    sessionmaker: async_sessionmaker[AsyncSession], fresh_type: str
) -> None:
    scenario = Scenario(sessionmaker, fresh_type, handling())
    body = scenario.event()
    await scenario.consumer.deliver(body)
    await scenario.consumer.deliver(body)
    assert scenario.counters() == (1, 1, 0, 0)


async def test_metrics_handler_failing_twice_counts_two_retries(
    sessionmaker: async_sessionmaker[AsyncSession], fresh_type: str
) -> None:
    scenario = Scenario(sessionmaker, fresh_type, handling(failures=2))
    body = scenario.event()
    retries = [await scenario.consumer.on_delivery(body, Attempt(number)) for number in (1, 2, 3)]
    assert [retry is not None for retry in retries] == [True, True, False]
    assert scenario.counters() == (1, 0, 2, 0)


async def test_metrics_handler_always_failing_counts_retries_and_dead_letter(
    sessionmaker: async_sessionmaker[AsyncSession], fresh_type: str
) -> None:
    scenario = Scenario(sessionmaker, fresh_type, handling(failures=1000))
    body = scenario.event()
    retries = [await scenario.consumer.on_delivery(body, Attempt(number)) for number in (1, 2, 3)]
    assert [retry is not None for retry in retries] == [True, True, False]
    assert scenario.counters() == (0, 0, 2, 1)


async def test_metrics_permanent_failure_counts_dead_letter_without_retry(
    sessionmaker: async_sessionmaker[AsyncSession], fresh_type: str
) -> None:
    scenario = Scenario(sessionmaker, fresh_type, handling(failures=1000, error=PermanentFailure))
    assert await scenario.consumer.deliver(scenario.event()) is False
    assert scenario.counters() == (0, 0, 0, 0)
    assert scenario.dead_lettered("permanent") == 1


async def test_metrics_undecodable_messages_count_dead_letters_by_known_type(
    sessionmaker: async_sessionmaker[AsyncSession], fresh_type: str
) -> None:
    scenario = Scenario(sessionmaker, fresh_type, handling())
    schema_invalid = json.loads(scenario.event())
    schema_invalid["data"] = {"thing_id": "not-a-uuid"}
    foreign = json.loads(scenario.event()) | {"type": "test.foreign.happened"}

    for body in (
        b"\xff not json",
        json.dumps(foreign).encode(),
        json.dumps(schema_invalid).encode(),
    ):
        assert await scenario.consumer.deliver(body) is False

    assert scenario.dead_lettered("undecodable", event_type="unknown") == 2
    assert scenario.dead_lettered("undecodable") == 1
    assert scenario.counters() == (0, 0, 0, 0)


async def add_events(
    sessionmaker: async_sessionmaker[AsyncSession], event_type: str, n: int
) -> list[str]:
    payload_type = payload_class(event_type)
    ids = []
    async with sessionmaker() as session, session.begin():
        for _ in range(n):
            event = build_event(payload_type(thing_id=uuid.uuid4()), source="/t", subject="agg")
            add_event(session, OutboxMessage, event)
            ids.append(event.id)
    return ids


async def test_metrics_relay_counts_published_and_failed_rows(
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    labels = {"service": service, "event_type": fresh_type}
    first, *_rest = await add_events(sessionmaker, fresh_type, 3)

    async def publish_failing_first(_broker: Broker, body: bytes, **_kwargs: Any) -> None:
        if json.loads(body)["id"] == first:
            raise ConnectionError("broker said no")

    async def publish(_broker: Broker, _body: bytes, **_kwargs: Any) -> None:
        return None

    monkeypatch.setattr(relay_module, "publish_envelope", publish_failing_first)
    async with sessionmaker() as session, session.begin():
        await relay_batch(session, OutboxMessage, make_broker("nats://unused"), service=service)
    assert sample("agora_events_published_total", **labels) == 0  # one subject: all wait
    assert sample("agora_events_publish_failures_total", **labels) == 1

    monkeypatch.setattr(relay_module, "publish_envelope", publish)
    async with sessionmaker() as session, session.begin():
        await relay_batch(session, OutboxMessage, make_broker("nats://unused"), service=service)
    assert sample("agora_events_published_total", **labels) == 3
    assert sample("agora_events_publish_failures_total", **labels) == 1


async def test_metrics_outbox_backlog_gauges_drop_to_zero_once_relayed(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
    nats_url: str,
) -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    await add_events(sessionmaker, fresh_type, 3)
    backdated = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=BACKDATE_SECONDS)
    async with sessionmaker() as session, session.begin():
        await session.execute(update(OutboxMessage).values(created_at=backdated))
        await observe_backlog(session, OutboxMessage, service)
    assert sample("agora_outbox_pending", service=service) == 3
    age = sample("agora_outbox_oldest_pending_age_seconds", service=service)
    assert BACKDATE_SECONDS <= age < BACKDATE_SECONDS + 30

    async def drained() -> bool:
        return (
            sample("agora_outbox_pending", service=service) == 0
            and sample("agora_outbox_oldest_pending_age_seconds", service=service) == 0
        )

    broker = make_broker(nats_url)
    async with broker:
        await broker.start()
        relay = start_relay(engine, OutboxMessage, broker, source=f"/agora/{service}")
        try:
            await wait_for(drained)
        finally:
            await relay.stop()


async def test_metrics_service_app_exposes_messaging_metrics(
    messaging_database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
) -> None:
    scenario = Scenario(sessionmaker, fresh_type, handling())
    await scenario.consumer.deliver(scenario.event())
    settings = ServiceSettings.model_validate(
        {"service_name": "demo", "database_url": messaging_database_url, "commit": "abc123"}
    )
    app = create_service_app(settings, title="demo", routers=[])
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        exposition = (await client.get("/metrics")).text

    for name in METRIC_NAMES:
        assert f"# HELP {name.removesuffix('_total')}" in exposition
    consumed = (
        f'agora_events_consumed_total{{event_type="{fresh_type}",'
        f'group="{scenario.group}",outcome="applied"}} 1.0'
    )
    assert consumed in exposition


async def test_metrics_backlog_reported_while_the_broker_is_unreachable(
    messaging_database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
) -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    await add_events(sessionmaker, fresh_type, 2)
    settings = ServiceSettings.model_validate(
        {
            "service_name": service,
            "database_url": messaging_database_url,
            "broker_url": f"nats://127.0.0.1:{free_port()}",  # nobody listens there
        }
    )
    app = create_service_app(settings, title="offline", routers=[], outbox=OutboxMessage)

    async def reported() -> bool:
        return sample("agora_outbox_pending", service=service) == 2

    async with LifespanManager(app):
        await wait_for(reported)
    # no relay ran: the gauge came from the reconnect loop
    assert service_state(app).messaging.relay is None
