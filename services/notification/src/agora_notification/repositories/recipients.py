"""Queries on ``recipients``, the projection of identity's users."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agora_notification.models import Recipient


class RecipientRepository:
    """Data access for recipients, bound to one transaction's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(
        self, *, user_id: uuid.UUID, email: str, full_name: str, registered_at: dt.datetime
    ) -> None:
        """Record the user's address and name, or update them.

        An update applies only when it is at least as recent as the stored row
        (``registered_at``), so a late, older event never overwrites a newer one.
        """
        statement = insert(Recipient).values(
            user_id=user_id, email=email, full_name=full_name, registered_at=registered_at
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[Recipient.user_id],
                set_={
                    "email": statement.excluded.email,
                    "full_name": statement.excluded.full_name,
                    "registered_at": statement.excluded.registered_at,
                },
                where=statement.excluded.registered_at >= Recipient.registered_at,
            )
        )

    async def get(self, user_id: uuid.UUID) -> Recipient | None:
        """The user's row, or ``None`` when no ``user.registered`` named them yet."""
        return await self.session.scalar(select(Recipient).where(Recipient.user_id == user_id))
