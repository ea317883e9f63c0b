"""SQL for loading many categories, products and stock rows at once. Never commits.

Every insert is ``ON CONFLICT DO NOTHING`` on the natural key (category slug, product SKU, stock
product): rows already there are left exactly as they are, so loading twice changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agora_catalog.models import Base, Category, Product, Stock
from agora_chassis.ids import new_id


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


class SeedRepository:
    """Bulk inserts of one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        """Work in ``session``'s transaction."""
        self.session = session

    async def add_categories(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert the categories whose slug is new.

        Args:
            rows: ``name``, ``slug`` and ``parent_id`` of each category.

        Returns:
            How many were inserted.
        """
        if not rows:
            return 0
        table = _table("categories")
        statement = insert(table).on_conflict_do_nothing(index_elements=["slug"])
        values = [{"id": new_id(), **row} for row in rows]
        return len((await self.session.execute(statement.returning(table.c.id), values)).all())

    async def category_ids(self, slugs: Sequence[str]) -> dict[str, uuid.UUID]:
        """The ids of the categories with these slugs (those that exist)."""
        rows = await self.session.execute(
            select(Category.slug, Category.id).where(Category.slug.in_(slugs))
        )
        return dict(rows.all())

    async def add_products(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert the products whose SKU is new (without stock; see :meth:`add_stock`).

        Args:
            rows: The product columns, ``category_id`` included.

        Returns:
            How many were inserted.
        """
        if not rows:
            return 0
        table = _table("products")
        statement = insert(table).on_conflict_do_nothing(index_elements=["sku"])
        values = [{"id": new_id(), "version_id": 1, **row} for row in rows]
        return len((await self.session.execute(statement.returning(table.c.id), values)).all())

    async def product_ids(self, skus: Sequence[str]) -> dict[str, uuid.UUID]:
        """The ids of the products with these SKUs (those that exist)."""
        rows = await self.session.execute(
            select(Product.sku, Product.id).where(Product.sku.in_(skus))
        )
        return dict(rows.all())

    async def add_stock(self, on_hand: dict[uuid.UUID, int]) -> int:
        """Give each product without a stock row one with ``on_hand`` units, none reserved.

        Returns:
            How many stock rows were inserted.
        """
        if not on_hand:
            return 0
        table = _table("stock")
        statement = insert(table).on_conflict_do_nothing(index_elements=["product_id"])
        values = [
            {"product_id": product_id, "on_hand": units, "reserved": 0}
            for product_id, units in on_hand.items()
        ]
        returning = statement.returning(table.c.product_id)
        return len((await self.session.execute(returning, values)).all())

    async def counts(self) -> dict[str, int]:
        """How many categories, products and stock rows there are in all."""
        counted = {}
        for name, model in (("categories", Category), ("products", Product), ("stock", Stock)):
            counted[name] = await self.session.scalar(select(func.count()).select_from(model)) or 0
        return counted
