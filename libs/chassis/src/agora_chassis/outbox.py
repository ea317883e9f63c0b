"""The transactional outbox: events are stored in the business transaction, published later.

A service declares its table with the mixin (``class OutboxMessage(OutboxMixin, Base)``) and calls
``add_event`` inside the request's transaction. The relay (``agora_chassis.messaging.relay``)
publishes pending rows; the commit wakes it through PostgreSQL ``NOTIFY``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from opentelemetry.propagate import inject
from sqlalchemy import Index, String, Text, func, select, text
from sqlalchemy import event as event_module
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from agora_chassis.db import utcnow
from agora_chassis.ids import new_id
from agora_chassis.logging import correlation_id
from agora_contracts.envelope import CloudEvent, EventPayload

EVENT_TYPE_LENGTH = 120
SUBJECT_LENGTH = 120
_PENDING_NOTIFY = "agora_outbox_notify"


class OutboxMixin:
    """Columns of an outbox table; pending rows have ``published_at IS NULL``."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(EVENT_TYPE_LENGTH))
    subject: Mapped[str | None] = mapped_column(String(SUBJECT_LENGTH))
    envelope: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Index, ...]:
        # The relay scans only pending rows in creation order: keep that index small.
        return (
            Index(
                f"ix_{cls.__tablename__}_pending",  # type: ignore[attr-defined]
                "created_at",
                postgresql_where=text("published_at IS NULL"),
            ),
        )


def build_event(payload: EventPayload, *, source: str, subject: str | None = None) -> CloudEvent:
    """Wrap a payload in a CloudEvents envelope carrying the current trace and correlation id.

    Args:
        payload: The validated event payload.
        source: The producing service, e.g. ``/agora/identity``.
        subject: The aggregate id the event is about.

    Returns:
        The envelope, ready to store.
    """
    carrier: dict[str, str] = {}
    inject(carrier)
    return CloudEvent(
        id=str(new_id()),
        source=source,
        type=payload.event_type,
        time=utcnow(),
        subject=subject,
        dataschema=payload.schema_uri(),
        traceparent=carrier.get("traceparent"),
        correlationid=correlation_id.get(),
        data=payload.model_dump(mode="json"),
    )


def notify_channel(outbox: type[OutboxMixin]) -> str:
    """The PostgreSQL ``NOTIFY`` channel that wakes the outbox's relay when rows are committed."""
    return f"agora_outbox_{outbox.__tablename__}"  # type: ignore[attr-defined]


def _notify_before_commit(session: Session) -> None:
    # NOTIFY is transactional: issued here, it is delivered when (and only if) the commit succeeds.
    for channel in sorted(session.info.pop(_PENDING_NOTIFY, set())):
        session.execute(select(func.pg_notify(channel, "")))


def _drop_pending_notify(session: Session, *_args: Any) -> None:
    session.info.pop(_PENDING_NOTIFY, None)


def add_event(session: AsyncSession, outbox: type[OutboxMixin], event: CloudEvent) -> None:
    """Store an event in the outbox, in the caller's (the request's) transaction.

    The commit of that transaction also notifies the relay (``pg_notify`` on
    :func:`notify_channel`), so the event is published without waiting for the relay's poll.

    Args:
        session: The session of the current transaction.
        outbox: The service's outbox model class.
        event: The envelope to publish.
    """
    session.add(
        outbox(  # type: ignore[call-arg]
            id=uuid.UUID(event.id),
            event_type=event.type,
            subject=event.subject,
            envelope=event.model_dump(mode="json"),
        )
    )
    sync_session = session.sync_session
    if not event_module.contains(sync_session, "before_commit", _notify_before_commit):
        event_module.listen(sync_session, "before_commit", _notify_before_commit)
        event_module.listen(sync_session, "after_rollback", _drop_pending_notify)
    sync_session.info.setdefault(_PENDING_NOTIFY, set()).add(notify_channel(outbox))
