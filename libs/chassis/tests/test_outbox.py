"""Events are wrapped in CloudEvents envelopes carrying trace and correlation ids."""

import datetime as dt
import uuid
from typing import ClassVar

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from agora_chassis.logging import correlation_id
from agora_chassis.outbox import build_event
from agora_contracts.envelope import CloudEvent, EventPayload


class ThingHappened(EventPayload):
    event_type: ClassVar[str] = "thing.happened"
    version: ClassVar[int] = 2
    thing_id: uuid.UUID


def test_build_event_wraps_payload_in_cloudevent() -> None:
    thing = uuid.uuid4()
    event = build_event(ThingHappened(thing_id=thing), source="/agora/test", subject=str(thing))
    assert isinstance(event, CloudEvent)
    assert (event.specversion, event.type, event.source) == ("1.0", "thing.happened", "/agora/test")
    assert event.dataschema == "urn:agora:events:thing.happened:v2"
    assert event.data == {"thing_id": str(thing)}
    assert uuid.UUID(event.id).version == 7
    assert event.time.tzinfo is dt.UTC


def test_build_event_carries_correlation_id() -> None:
    token = correlation_id.set("req-123")
    try:
        event = build_event(ThingHappened(thing_id=uuid.uuid4()), source="/agora/test")
    finally:
        correlation_id.reset(token)
    assert event.correlationid == "req-123"


def test_build_event_inside_span_carries_traceparent() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        event = build_event(ThingHappened(thing_id=uuid.uuid4()), source="/agora/test")
        trace_id = format(span.get_span_context().trace_id, "032x")
    assert event.traceparent is not None
    assert event.traceparent.split("-")[1] == trace_id


def test_build_event_outside_span_has_no_traceparent() -> None:
    assert trace.get_current_span().get_span_context().is_valid is False
    event = build_event(ThingHappened(thing_id=uuid.uuid4()), source="/agora/test")
    assert event.traceparent is None
