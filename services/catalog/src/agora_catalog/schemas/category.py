"""Category DTOs, and the tree ``GET /categories`` returns."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from agora_catalog.schemas.product import Name, refuse_null

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=100)]


class CategoryCreate(BaseModel):
    """A new category (admin).

    Attributes:
        name: Display name.
        slug: URL name, unique (``kitchen-knives``).
        parent_id: The parent category; ``None`` for a top-level one.
    """

    model_config = ConfigDict(extra="forbid")

    name: Name
    slug: Slug
    parent_id: uuid.UUID | None = None


class CategoryUpdate(BaseModel):
    """Changes to a category (admin); only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    slug: Slug | None = None
    parent_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _no_null_for_required(self) -> CategoryUpdate:
        return refuse_null(self, frozenset({"parent_id"}))


class CategoryRead(BaseModel):
    """A category."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    slug: str
    parent_id: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime


class CategoryNode(BaseModel):
    """A category with its sub-categories, recursively."""

    id: uuid.UUID
    name: str
    slug: str
    children: list[CategoryNode] = Field(default_factory=list)
