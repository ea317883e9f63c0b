"""Categories form a tree (a category may have a parent)."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from agora_catalog.models.base import Base
from agora_chassis.db import Timestamps, UUIDPrimaryKey

NAME_LENGTH = 100
SLUG_LENGTH = 100


class Category(UUIDPrimaryKey, Timestamps, Base):
    """A category of products; ``parent_id`` places it in the tree."""

    __tablename__ = "categories"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    slug: Mapped[str] = mapped_column(String(SLUG_LENGTH), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), index=True
    )
