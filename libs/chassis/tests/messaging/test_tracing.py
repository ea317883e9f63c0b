"""Trace context rides in the event: the consumer's span is a child of the producer's.

The event goes the whole way: built in a producer span, stored in the outbox, published by the
relay through a real broker, processed by a consumer. A local tracer provider records the spans
(the process-wide one can be set only once, and other tests own it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.messaging import Broker, EventConsumer, relay_batch
from agora_chassis.messaging import consumer as consumer_module
from agora_chassis.outbox import add_event, build_event
from agora_contracts.envelope import CloudEvent
from libs.chassis.tests.messaging.support import (
    DeadLetter,
    Effect,
    InboxMessage,
    OutboxMessage,
    count,
    payload_class,
    wait_for,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> tuple[trace.Tracer, InMemorySpanExporter]:
    """A tracer recording into memory, also used by the consumer."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(__name__)
    monkeypatch.setattr(consumer_module, "tracer", tracer)
    return tracer, exporter


async def apply(session: AsyncSession, _payload: Any, event: CloudEvent) -> None:
    session.add(Effect(event_id=event.id))


async def test_tracing_consumer_span_is_child_of_producer_span(
    running_broker: Callable[..., Any],
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_type: str,
    spans: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = spans
    payload_type = payload_class(fresh_type)

    def register(broker: Broker) -> None:
        consumer = EventConsumer(
            broker,
            sessionmaker,
            group=f"group-{uuid.uuid4().hex[:6]}",
            inbox_model=InboxMessage,
            dead_letter_model=DeadLetter,
        )
        consumer.handler(payload_type)(apply)

    async with running_broker(register) as broker:
        with tracer.start_as_current_span("register", kind=trace.SpanKind.SERVER) as producer:
            async with sessionmaker() as session, session.begin():
                event = build_event(payload_type(thing_id=uuid.uuid4()), source="/agora/test")
                add_event(session, OutboxMessage, event)
        async with sessionmaker() as session, session.begin():  # the relay, outside any span
            assert (await relay_batch(session, OutboxMessage, broker)).published == 1

        async def applied() -> bool:
            return await count(sessionmaker, Effect, Effect.event_id == event.id) == 1

        await wait_for(applied)

    (process,) = [span for span in exporter.get_finished_spans() if span.name != "register"]
    producer_context = producer.get_span_context()
    assert process.name == f"{fresh_type} process"
    assert process.kind == trace.SpanKind.CONSUMER
    assert process.context is not None
    assert process.context.trace_id == producer_context.trace_id
    assert process.parent is not None
    assert process.parent.span_id == producer_context.span_id
    assert process.parent.is_remote
