"""Queries on a service's dead-letter table (the admin API's data access)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora_chassis.messaging.deadletters import DeadLetterMixin

State = Literal["pending", "replayed", "all"]
"""Which dead letters a list shows: not yet applied, applied by a replay, or both."""


class DeadLetterRepository:
    """Data access for one service's dead letters, bound to one transaction's session."""

    def __init__(self, session: AsyncSession, model: type[DeadLetterMixin]) -> None:
        """Work in ``session`` on the service's dead-letter ``model``."""
        self.session = session
        self.model = model

    async def page(
        self, state: State, *, offset: int, limit: int
    ) -> tuple[list[DeadLetterMixin], int]:
        """One page of dead letters in ``state``, oldest first, and their total count."""
        model = self.model
        where = self._state_filter(state)
        total = await self.session.scalar(select(func.count()).select_from(model).where(*where))
        rows = await self.session.scalars(
            select(model)
            .where(*where)
            .order_by(model.first_failed_at, model.id)
            .offset(offset)
            .limit(limit)
        )
        return list(rows), total or 0

    async def get(
        self, dead_letter_id: uuid.UUID, *, fresh: bool = False
    ) -> DeadLetterMixin | None:
        """The dead letter, or ``None``; ``fresh`` re-reads a row another transaction changed."""
        return await self.session.get(self.model, dead_letter_id, populate_existing=fresh)

    async def pending_ids(self, *, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
        """Up to ``limit`` ids of pending dead letters in id order, starting after ``after``."""
        model = self.model
        query = select(model.id).where(model.replayed_at.is_(None)).order_by(model.id).limit(limit)
        if after is not None:
            query = query.where(model.id > after)
        return list(await self.session.scalars(query))

    async def delete(self, letter: DeadLetterMixin) -> None:
        """Delete a dead letter for good."""
        await self.session.delete(letter)
        await self.session.flush()

    def _state_filter(self, state: State) -> list[Any]:
        if state == "pending":
            return [self.model.replayed_at.is_(None)]
        if state == "replayed":
            return [self.model.replayed_at.is_not(None)]
        return []
