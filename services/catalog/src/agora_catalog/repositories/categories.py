"""SQL for categories. Returns models; never commits."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora_catalog.models import Category, Product
from agora_chassis.db import AfterCommitHook, after_commit


class CategoryRepository:
    """Categories of one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        """Work in ``session``'s transaction."""
        self.session = session

    async def all(self) -> list[Category]:
        """Every category, by name."""
        return list(await self.session.scalars(select(Category).order_by(Category.name)))

    async def get(self, category_id: uuid.UUID) -> Category | None:
        """The category with this id, or ``None``."""
        return await self.session.get(Category, category_id)

    async def get_by_slug(self, slug: str) -> Category | None:
        """The category with this slug, or ``None``."""
        return await self.session.scalar(select(Category).where(Category.slug == slug))

    async def slugs(self) -> list[str]:
        """Every slug, sorted (the allowed values of the ``category`` filter)."""
        return list(await self.session.scalars(select(Category.slug).order_by(Category.slug)))

    async def in_use(self, category_id: uuid.UUID) -> bool:
        """Whether products or sub-categories still point at the category."""
        products = exists().where(Product.category_id == category_id)
        children = exists().where(Category.parent_id == category_id)
        return bool(await self.session.scalar(select(products | children)))

    def add(self, category: Category) -> None:
        """Stage a new category."""
        self.session.add(category)

    async def delete(self, category: Category) -> None:
        """Stage the category's deletion."""
        await self.session.delete(category)

    async def flush(self) -> None:
        """Send pending changes now."""
        await self.session.flush()

    def after_commit(self, hook: AfterCommitHook) -> None:
        """Run ``hook`` once this transaction commits (never after a rollback)."""
        after_commit(self.session, hook)
