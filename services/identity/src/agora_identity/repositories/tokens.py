"""Queries on ``refresh_tokens``."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agora_identity.models import RefreshToken


class RefreshTokenRepository:
    """Data access for refresh tokens, bound to one transaction's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: RefreshToken) -> None:
        """Store a newly issued token."""
        self.session.add(token)
        await self.session.flush()

    async def get_for_update(self, token_hash: str) -> RefreshToken | None:
        """Return the token with this hash, row-locked so concurrent refreshes serialise."""
        query = select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        return await self.session.scalar(query)

    async def revoke_family(self, family_id: uuid.UUID, now: dt.datetime) -> int:
        """Revoke every not-yet-revoked token of a family.

        Returns:
            How many tokens were revoked.
        """
        result = await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
