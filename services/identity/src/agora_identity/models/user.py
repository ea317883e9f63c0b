"""A user account."""

from enum import StrEnum

from sqlalchemy import Index, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from agora_chassis.db import Timestamps, UUIDPrimaryKey
from agora_identity.models.base import Base

EMAIL_LENGTH = 320
NAME_LENGTH = 200
HASH_LENGTH = 255
ROLE_LENGTH = 32


class Role(StrEnum):
    """Roles a token can carry; RBAC checks compare against these."""

    CUSTOMER = "customer"
    ADMIN = "admin"


class User(UUIDPrimaryKey, Timestamps, Base):
    """An account that can log in.

    ``email`` is stored normalised (trimmed, lower-case) and unique. ``version_id`` makes
    concurrent admin edits fail loudly instead of overwriting each other.
    """

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    full_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(ROLE_LENGTH)))
    is_active: Mapped[bool] = mapped_column(default=True, index=True)
    version_id: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012 - SQLAlchemy's own hook
    # "Users holding role X" is an array-containment query: GIN, not B-tree.
    __table_args__ = (Index("ix_users_roles", "roles", postgresql_using="gin"),)

    def __repr__(self) -> str:
        return f"User(id={self.id!s}, roles={self.roles!r}, active={self.is_active})"
