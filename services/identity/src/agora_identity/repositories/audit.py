"""Writes to ``audit_log``."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from agora_identity.models import AuditEntry


class AuditRepository:
    """Data access for audit entries."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, entry: AuditEntry) -> None:
        """Store an audit entry."""
        self.session.add(entry)
        await self.session.flush()
