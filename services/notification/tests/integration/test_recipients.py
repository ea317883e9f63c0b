"""user.registered keeps the recipients projection: one row per user, the latest facts win."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from agora_chassis.messaging import EventConsumer
from agora_chassis.state import service_state
from agora_cli.infra.ports import free_port
from agora_notification.models import Recipient

pytestmark = pytest.mark.integration

Consumers = Callable[..., EventConsumer]
Events = Callable[..., bytes]
EARLIER = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
LATER = EARLIER + dt.timedelta(hours=1)


async def _recipients(app: FastAPI) -> list[tuple[uuid.UUID, str, str]]:
    async with service_state(app).sessionmaker() as session:
        rows = await session.scalars(select(Recipient))
        return [(row.user_id, row.email, row.full_name) for row in rows]


async def test_deliver_user_registered_records_the_recipient(
    app: FastAPI, consumer_for: Consumers, registered_event: Events
) -> None:
    user_id = uuid.uuid4()

    body = registered_event(email="ada@example.com", full_name="Ada Lovelace", user_id=user_id)
    assert await consumer_for().deliver(body) is True

    assert await _recipients(app) == [(user_id, "ada@example.com", "Ada Lovelace")]


async def test_deliver_user_registered_newer_facts_replace_older_ones(
    app: FastAPI, consumer_for: Consumers, registered_event: Events
) -> None:
    consumer, user_id = consumer_for(), uuid.uuid4()
    first = registered_event(email="old@example.com", user_id=user_id, registered_at=EARLIER)
    second = registered_event(email="new@example.com", user_id=user_id, registered_at=LATER)

    assert await consumer.deliver(first) is True
    assert await consumer.deliver(second) is True

    assert await _recipients(app) == [(user_id, "new@example.com", "Ada Lovelace")]


async def test_deliver_user_registered_late_older_event_changes_nothing(
    app: FastAPI, consumer_for: Consumers, registered_event: Events
) -> None:
    consumer, user_id = consumer_for(), uuid.uuid4()
    newer = registered_event(email="new@example.com", user_id=user_id, registered_at=LATER)
    older = registered_event(email="old@example.com", user_id=user_id, registered_at=EARLIER)

    assert await consumer.deliver(newer) is True
    assert await consumer.deliver(older) is True

    assert await _recipients(app) == [(user_id, "new@example.com", "Ada Lovelace")]


async def test_deliver_user_registered_welcome_failing_still_records_the_recipient(
    app: FastAPI, consumer_for: Consumers, registered_event: Events
) -> None:
    # The row is committed before the welcome is sent: a relay outage that dead-letters the
    # welcome must not also hold back the user's order e-mails (each would be dead-lettered as
    # an unknown buyer until the welcome is replayed).
    assert await consumer_for(smtp_port=free_port()).deliver(registered_event()) is False

    assert len(await _recipients(app)) == 1
