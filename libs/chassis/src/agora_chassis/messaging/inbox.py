"""The inbox: ids of the events a consumer applied, written in the same transaction as the effect.

A redelivered or replayed event finds its id already there and is skipped, so at-least-once
delivery becomes effectively-once processing. A service declares
``class InboxMessage(InboxMixin, Base): __tablename__ = "inbox"``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from agora_chassis.db import utcnow

EVENT_ID_LENGTH = 64
EVENT_TYPE_LENGTH = 120


class InboxMixin:
    """Columns of an inbox table: one row per applied event."""

    event_id: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(EVENT_TYPE_LENGTH))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


async def claim(
    session: AsyncSession, inbox_model: type[InboxMixin], event_id: str, event_type: str
) -> bool:
    """Record that this transaction applies the event; call it before the effect, same transaction.

    A concurrent delivery of the same event blocks on the primary key until this transaction ends,
    then finds the row and gets ``False``.

    Args:
        session: The consumer's transaction.
        inbox_model: The service's inbox model class.
        event_id: The CloudEvent id.
        event_type: The CloudEvent type (for inspection only).

    Returns:
        ``True`` when the event is new and its effect must be applied, ``False`` when it was
        already applied.
    """
    statement = (
        insert(inbox_model)
        .values(event_id=event_id, event_type=event_type, received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(inbox_model.event_id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None
