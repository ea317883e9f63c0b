"""Queries on ``users``."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agora_chassis.outbox import add_event
from agora_contracts.envelope import CloudEvent
from agora_identity.models import OutboxMessage, User


class DuplicateEmailError(Exception):
    """The e-mail address is already taken (unique constraint)."""


class UserRepository:
    """Data access for users, bound to one transaction's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        """Return the user with this id, if any."""
        return await self.session.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        """Return the user with this (normalised) e-mail, if any."""
        return await self.session.scalar(select(User).where(User.email == email))

    async def add(self, user: User) -> User:
        """Insert a user and flush, so a duplicate e-mail fails here and not at commit.

        Raises:
            DuplicateEmailError: Another account has this e-mail (also under a race).
        """
        try:
            async with self.session.begin_nested():
                self.session.add(user)
                await self.session.flush()
        except IntegrityError as exc:
            raise DuplicateEmailError(user.email) from exc
        return user

    def add_event(self, event: CloudEvent) -> None:
        """Stage an event in the outbox, published once this transaction commits."""
        add_event(self.session, OutboxMessage, event)

    async def flush(self) -> None:
        """Send pending changes now (to see constraint violations inside the transaction)."""
        await self.session.flush()

    async def list(
        self,
        *,
        email: str | None,
        role: str | None,
        is_active: bool | None,
        offset: int,
        limit: int,
    ) -> tuple[list[User], int]:
        """Return one page of users matching the filters, and the total match count.

        Ordered by id (UUIDv7, so by creation time), which is stable across pages.
        """
        query = select(User)
        if email:
            escaped = email.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(User.email.like(f"%{escaped}%", escape="\\"))
        if role:
            query = query.where(User.roles.contains([role]))
        if is_active is not None:
            query = query.where(User.is_active.is_(is_active))
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(query.order_by(User.id).offset(offset).limit(limit))
        return list(rows), total or 0
