"""Refresh tokens: stored hashed, rotated on use, grouped in families for reuse detection."""

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agora_chassis.db import UUIDPrimaryKey, utcnow
from agora_identity.models.base import Base

SHA256_HEX_LENGTH = 64


class RefreshToken(UUIDPrimaryKey, Base):
    """One issued refresh token.

    A login starts a family; each refresh marks the presented token used and issues the next one
    in the same family. Presenting a used token again revokes the whole family.

    ``scopes`` are the scopes granted at login (space-separated), carried along the family so a
    refresh never widens them; ``None`` on tokens issued before scopes were stored.
    """

    __tablename__ = "refresh_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    scopes: Mapped[str | None] = mapped_column(Text)
