"""JetStream specifics of ``publish_envelope``: streams per domain and duplicate suppression."""

from __future__ import annotations

import uuid

import pytest

from agora_chassis.messaging import make_broker, publish_envelope
from agora_chassis.messaging.broker import NatsBroker, stream_for

pytestmark = pytest.mark.integration


async def _stream_messages(broker: NatsBroker, event_type: str) -> int:
    name, _subjects = stream_for(event_type)
    info = await broker.connection.jetstream().stream_info(name)
    return int(info.state.messages)


async def test_publish_envelope_same_event_id_twice_is_stored_once(nats_url: str) -> None:
    event_type = f"dedup{uuid.uuid4().hex[:8]}.happened"
    broker = make_broker(nats_url)
    assert isinstance(broker, NatsBroker)
    async with broker:
        await broker.start()
        for event_id in ("event-1", "event-1", "event-2"):  # a resend, then another event
            headers = {"ce-id": event_id, "ce-type": event_type}
            await publish_envelope(broker, b"{}", event_type=event_type, key=None, headers=headers)

        assert await _stream_messages(broker, event_type) == 2
