"""Queries on ``users``."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agora_chassis.outbox import add_event
from agora_chassis.reader import Reader, Row
from agora_contracts.envelope import CloudEvent
from agora_identity.models import OutboxMessage, User

_users = User.__table__.c
PROFILE_COLUMNS = (
    _users.id,
    _users.email,
    _users.full_name,
    _users.roles,
    _users.is_active,
    _users.created_at,
    _users.updated_at,
)
"""What a read shows of a user (``UserRead``): every column but the password hash and version."""
PROFILE_BY_ID = select(*PROFILE_COLUMNS).where(_users.id == bindparam("user_id"))


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


class UserProfiles:
    """Profiles (:data:`PROFILE_COLUMNS`) as plain rows, read without a transaction.

    For reads that show users and change nothing: one statement each on the chassis
    :class:`~agora_chassis.reader.Reader` (no session, no entities; ADR 0018).
    """

    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    async def find(self, user_id: uuid.UUID) -> Row | None:
        """Return the user's profile row, if there is such a user."""
        return await self.reader.fetch_one(PROFILE_BY_ID, user_id=user_id)

    async def list(
        self,
        *,
        email: str | None,
        role: str | None,
        is_active: bool | None,
        offset: int,
        limit: int,
    ) -> tuple[list[Row], int]:
        """Return one page of profiles matching the filters, and the total match count.

        Ordered by id (UUIDv7, so by creation time), which is stable across pages. Two
        statements, so the count may differ by a user registered between them.
        """
        query = select(*PROFILE_COLUMNS)
        if email:
            escaped = email.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(_users.email.like(f"%{escaped}%", escape="\\"))
        if role:
            query = query.where(_users.roles.contains([role]))
        if is_active is not None:
            query = query.where(_users.is_active.is_(is_active))
        total = await self.reader.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.reader.fetch(query.order_by(_users.id).offset(offset).limit(limit))
        return rows, total or 0
