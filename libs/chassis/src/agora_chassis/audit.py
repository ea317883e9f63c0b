"""The audit log: who did what, written in the same transaction as the change it records.

A service declares ``class AuditEntry(AuditMixin, Base): __tablename__ = "audit_log"`` (adding
columns of its own, e.g. identity's ``user_id`` and ``email``) and records entries through an
:class:`Auditor` its dependency wiring builds. The columns are the ones identity's log has always
had, so one shape serves every service and an operator reads every service's log the same way.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from agora_chassis.auth import Principal
from agora_chassis.db import utcnow
from agora_chassis.ids import new_id

EVENT_LENGTH = 40
ADDRESS_LENGTH = 64


class AuditMixin:
    """Columns of an audit table: one row per audited action."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    event: Mapped[str] = mapped_column(String(EVENT_LENGTH), index=True)
    actor_id: Mapped[uuid.UUID | None]
    client_ip: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


@dataclass(frozen=True)
class Actor:
    """Who acts, as far as an audit log cares.

    Attributes:
        subject: The principal's subject (a user id for people, a client id for services).
        client_ip: The caller's address.
    """

    subject: str | None = None
    client_ip: str | None = None

    @classmethod
    def of(cls, principal: Principal | None, client_ip: str | None = None) -> Actor:
        """The actor behind ``principal`` (anonymous when ``None``)."""
        return cls(principal.subject if principal else None, client_ip)

    def user_id(self) -> uuid.UUID | None:
        """The subject as a user id; ``None`` when it is not one (e.g. a service client)."""
        try:
            return uuid.UUID(self.subject) if self.subject else None
        except ValueError:
            return None


class AuditRepository:
    """Writes and reads one service's audit table in the caller's transaction."""

    def __init__(self, session: AsyncSession, model: type[AuditMixin]) -> None:
        """Work in ``session`` on the service's audit ``model``."""
        self.session = session
        self.model = model

    async def add(self, entry: AuditMixin) -> None:
        """Store an entry (flushed, so a failing write fails the change it records)."""
        self.session.add(entry)
        await self.session.flush()

    async def page(self, *, offset: int, limit: int) -> tuple[list[AuditMixin], int]:
        """One page of entries, newest first, and the total count."""
        model = self.model
        total = await self.session.scalar(select(func.count()).select_from(model))
        rows = await self.session.scalars(
            select(model)
            .order_by(model.created_at.desc(), model.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(rows), total or 0


class Auditor:
    """Records what an actor does, in the transaction of the change itself."""

    def __init__(self, repository: AuditRepository, actor: Actor) -> None:
        """Write through ``repository``, as done by ``actor``."""
        self.repository = repository
        self.actor = actor

    async def record(self, event: str, **details: Any) -> AuditMixin:
        """Add one entry.

        Args:
            event: What happened (``product_created``, ``dead_letter_replayed``, ...).
            **details: Extra JSON-serialisable facts (ids, changed field names; never secrets or
                personal data).

        Returns:
            The new entry.
        """
        user_id = self.actor.user_id()
        if self.actor.subject is not None and user_id is None:
            details = {**details, "actor": self.actor.subject}
        entry = self.repository.model(  # type: ignore[call-arg]
            id=new_id(),
            event=event,
            actor_id=user_id,
            client_ip=self.actor.client_ip,
            details=details,
            created_at=utcnow(),
        )
        await self.repository.add(entry)
        return entry

    async def page(self, *, offset: int, limit: int) -> tuple[list[AuditMixin], int]:
        """One page of the log, newest first, and the total count."""
        return await self.repository.page(offset=offset, limit=limit)
