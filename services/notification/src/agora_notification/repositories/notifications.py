"""Queries on ``notifications``."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agora_chassis.db import utcnow
from agora_notification.models import Notification, NotificationStatus


class NotificationRepository:
    """Data access for notifications, bound to one transaction's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def start_attempt(
        self,
        *,
        event_id: str,
        recipient: str,
        template: str,
        subject: str,
        order_id: uuid.UUID | None = None,
    ) -> Notification:
        """Record one more sending attempt for a notification, creating it if new.

        The notification is the event's, or, when ``order_id`` is given, the order's for this
        template (whichever event brings it). The row is locked until the transaction ends, so
        concurrent deliveries take turns. A row already ``sent`` keeps its status (the caller
        must not send again).

        Returns:
            The row, with ``attempts`` counting this attempt.
        """
        # No conflict target: either key may exist already, the event's id or the order's
        # (order_id, template).
        new_row = insert(Notification).values(
            event_id=event_id,
            order_id=order_id,
            recipient=recipient,
            template=template,
            subject=subject,
            status=NotificationStatus.PENDING.value,
            attempts=0,
            created_at=utcnow(),
        )
        await self.session.execute(new_row.on_conflict_do_nothing())
        if order_id is None:
            key = Notification.event_id == event_id
        else:
            key = (Notification.order_id == order_id) & (Notification.template == template)
        row = await self.session.scalar(
            select(Notification)
            .where(key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert row is not None  # noqa: S101 - inserted or found just above
        if row.status != NotificationStatus.SENT:
            row.attempts += 1
            row.status = NotificationStatus.PENDING.value
        return row

    async def finish(self, notification_id: uuid.UUID, status: NotificationStatus) -> None:
        """Mark the notification ``sent`` (stamping ``sent_at``) or ``failed``."""
        row = await self.session.get(Notification, notification_id, with_for_update=True)
        if row is None:
            return
        row.status = status.value
        if status is NotificationStatus.SENT:
            row.sent_at = utcnow()

    async def list(self, *, offset: int, limit: int) -> tuple[list[Notification], int]:
        """Return one page of notifications, newest first, and the total count."""
        total = await self.session.scalar(select(func.count()).select_from(Notification))
        rows = await self.session.scalars(
            select(Notification)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(rows), total or 0
