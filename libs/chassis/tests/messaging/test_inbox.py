"""The inbox claims an event id once."""

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.messaging import claim
from libs.chassis.tests.messaging.support import InboxMessage, count

pytestmark = pytest.mark.integration


async def test_claim_new_event_returns_true_then_false(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    event_id = str(uuid.uuid4())
    async with sessionmaker() as session, session.begin():
        first = await claim(session, InboxMessage, event_id, "thing.happened")
    async with sessionmaker() as session, session.begin():
        second = await claim(session, InboxMessage, event_id, "thing.happened")
    assert (first, second) == (True, False)


async def test_claim_rolled_back_transaction_leaves_event_unclaimed(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    event_id = str(uuid.uuid4())
    async with sessionmaker() as session, session.begin():
        assert await claim(session, InboxMessage, event_id, "thing.happened")
        await session.rollback()
    assert await count(sessionmaker, InboxMessage, InboxMessage.event_id == event_id) == 0
