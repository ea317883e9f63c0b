"""Tables, payloads and helpers shared by the messaging tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from sqlalchemy import String, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agora_chassis.db import TYPE_ANNOTATION_MAP, make_metadata
from agora_chassis.messaging import DeadLetterMixin, InboxMixin
from agora_chassis.outbox import OutboxMixin
from agora_contracts.envelope import EventPayload

WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"


class InboxMessage(InboxMixin, Base):
    __tablename__ = "inbox"


class DeadLetter(DeadLetterMixin, Base):
    __tablename__ = "dead_letters"


class Effect(Base):
    """What a test handler does: one row per application of an event."""

    __tablename__ = "effects"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    event_id: Mapped[str] = mapped_column(String(64))


class ThingHappened(EventPayload):
    event_type: ClassVar[str] = "test.thing.happened"
    thing_id: uuid.UUID


def payload_class(event_type: str) -> type[ThingHappened]:
    """A payload class with its own event type, so tests never see each other's messages."""
    return type("ThingHappened", (ThingHappened,), {"event_type": event_type})


def unique_type(name: str) -> str:
    return f"test.{name}.{uuid.uuid4().hex[:8]}"


async def count(sessionmaker: async_sessionmaker[AsyncSession], model: Any, *where: Any) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def wait_for(check: Callable[[], Awaitable[bool]], seconds: float = WAIT_SECONDS) -> None:
    """Poll ``check`` until it holds; fail the test after ``seconds``."""
    async with asyncio.timeout(seconds):
        while not await check():  # noqa: ASYNC110 - polling the database, no event to wait on
            await asyncio.sleep(POLL_SECONDS)
