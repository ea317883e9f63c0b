"""A NATS broker from ``make_broker`` survives an outage of any length.

nats-py's client gives up after 60 reconnect tries (2 s apart) and then stays closed, so a relay
or consumer outlived a broker outage of more than about two minutes only by a service restart.
The test shortens the wait between tries so that the outage outlasts 60 tries in about a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from faststream.nats import NatsBroker

from agora_chassis.messaging import make_broker, publish_envelope
from agora_cli.infra.nats import EmbeddedNats
from agora_cli.infra.ports import free_port
from libs.chassis.tests.messaging.support import unique_type

pytestmark = pytest.mark.integration

TRY_INTERVAL_SECONDS = 0.01
# 60 tries at 10 ms each end in about one second; this outage is several times longer.
OUTAGE_SECONDS = 4.0


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[EmbeddedNats]:
    port = free_port(count=2)
    server = EmbeddedNats(tmp_path / "data", port, port + 1, tmp_path / "log", tmp_path / "pid")
    server.start()
    yield server
    server.stop()


async def _publish(broker: NatsBroker, event_type: str) -> None:
    await publish_envelope(broker, b"{}", event_type=event_type, key=None, headers={})


async def _gives_up_within(broker: NatsBroker, seconds: float) -> bool:
    """Tell whether the client closes for good within ``seconds`` (checked every 50 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if broker.connection.is_closed:
            return True
        await asyncio.sleep(0.05)
    return broker.connection.is_closed


async def test_nats_broker_outage_longer_than_client_retry_budget_then_publishes(
    nats_server: EmbeddedNats,
) -> None:
    broker = make_broker(nats_server.url)
    assert isinstance(broker, NatsBroker)
    event_type = unique_type("outage")
    await broker.start()
    try:
        await _publish(broker, event_type)
        broker.connection.options["reconnect_time_wait"] = TRY_INTERVAL_SECONDS
        nats_server.stop()
        assert not await _gives_up_within(broker, OUTAGE_SECONDS), "the client gave up"
        nats_server.start()
        await asyncio.wait_for(_publish(broker, event_type), timeout=30)
    finally:
        await broker.stop()
