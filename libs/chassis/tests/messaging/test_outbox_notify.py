"""Committing an outbox row notifies the relay; rolling it back does not."""

import asyncio
import uuid

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agora_chassis.outbox import add_event, build_event, notify_channel
from agora_contracts.envelope import CloudEvent
from libs.chassis.tests.messaging.support import OutboxMessage, ThingHappened

pytestmark = pytest.mark.integration

NOTIFY_WAIT_SECONDS = 2.0
SILENCE_SECONDS = 0.3


async def test_add_event_commit_notifies_and_rollback_does_not(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    notified: asyncio.Queue[str] = asyncio.Queue()
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    listener = await asyncpg.connect(url)
    await listener.add_listener(
        notify_channel(OutboxMessage), lambda *args: notified.put_nowait(args[2])
    )
    try:
        async with sessionmaker() as session, session.begin():
            add_event(session, OutboxMessage, _event())
            await session.rollback()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(notified.get(), SILENCE_SECONDS)
        async with sessionmaker() as session, session.begin():
            add_event(session, OutboxMessage, _event())
            add_event(session, OutboxMessage, _event())
        channel = await asyncio.wait_for(notified.get(), NOTIFY_WAIT_SECONDS)
    finally:
        await listener.close()
    assert channel == "agora_outbox_outbox"
    assert notified.empty()  # one NOTIFY per transaction, not per row


def _event() -> CloudEvent:
    return build_event(ThingHappened(thing_id=uuid.uuid4()), source="/t")
