"""Dead letters: messages a consumer could not apply, kept with the error for inspection and replay.

A service declares ``class DeadLetter(DeadLetterMixin, Base): __tablename__ = "dead_letters"``.
Undecodable messages have no event id or type; their bytes are kept in ``raw``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from agora_chassis.db import utcnow
from agora_chassis.ids import new_id

EVENT_ID_LENGTH = 64
EVENT_TYPE_LENGTH = 120


class DeadLetterMixin:
    """Columns of a dead-letter table."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    event_id: Mapped[str | None] = mapped_column(String(EVENT_ID_LENGTH), index=True)
    event_type: Mapped[str | None] = mapped_column(String(EVENT_TYPE_LENGTH), index=True)
    envelope: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str] = mapped_column(Text)
    stack: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    first_failed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_failed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    replayed_at: Mapped[dt.datetime | None]


async def add_dead_letter(
    session: AsyncSession,
    model: type[DeadLetterMixin],
    *,
    error: str,
    attempts: int,
    envelope: dict[str, Any] | None = None,
    raw: bytes | None = None,
    stack: str | None = None,
    first_failed_at: dt.datetime | None = None,
) -> DeadLetterMixin:
    """Store a dead letter in the caller's transaction.

    Args:
        session: The transaction to write in.
        model: The service's dead-letter model class.
        error: One line saying what went wrong.
        attempts: How many times the handler ran (0 when the message could not be decoded).
        envelope: The decoded envelope, when there is one.
        raw: The undecodable body, when there is no envelope.
        stack: The traceback of the last failure.
        first_failed_at: When the first try failed (default: now).

    Returns:
        The new row (flushed on commit).
    """
    now = utcnow()
    envelope = envelope or {}
    row = model(  # type: ignore[call-arg]
        id=new_id(),
        event_id=_text(envelope.get("id"), EVENT_ID_LENGTH),
        event_type=_text(envelope.get("type"), EVENT_TYPE_LENGTH),
        envelope=envelope or None,
        raw=raw,
        error=error,
        stack=stack,
        attempts=attempts,
        first_failed_at=first_failed_at or now,
        last_failed_at=now,
    )
    session.add(row)
    return row


def _text(value: Any, limit: int) -> str | None:
    # A schema-invalid envelope may carry anything in these fields; keep what fits.
    return None if value is None else str(value)[:limit]
