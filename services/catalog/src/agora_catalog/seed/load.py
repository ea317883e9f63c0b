"""Load a generated catalogue into the database: idempotent, and never overwriting.

Rows are matched on their natural keys (category slug, product SKU). What is already there is
left exactly as it is, so a second run adds nothing, and a product an admin renamed, repriced or
restocked keeps the admin's values: the seed only ever adds what is missing. Everything happens in
the caller's transaction; the caller commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from agora_catalog.repositories.seeding import SeedRepository
from agora_catalog.seed.data import CategoryNode
from agora_catalog.seed.generate import Catalogue

BATCH_SIZE = 500

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LoadReport:
    """What a load added.

    Attributes:
        categories: Categories in the catalogue.
        categories_added: Of those, how many were new.
        products: Products in the catalogue.
        products_added: Of those, how many were new (the others were left as they were).
        stock_added: Stock rows created.
    """

    categories: int
    categories_added: int
    products: int
    products_added: int
    stock_added: int

    @property
    def changed(self) -> bool:
        """Whether the load added anything."""
        return bool(self.categories_added or self.products_added or self.stock_added)


def _silent(_message: str) -> None:
    """Progress sink that reports nothing."""


async def load_categories(
    seeds: SeedRepository, categories: Sequence[CategoryNode]
) -> tuple[int, dict[str, uuid.UUID]]:
    """Insert the missing categories, one tree level at a time (parents need their ids first).

    Returns:
        How many were added, and the id of every category of the catalogue by slug.

    Raises:
        ValueError: When a category's parent is not in the catalogue.
    """
    added, ids = 0, dict[str, uuid.UUID]()
    pending = list(categories)
    while pending:
        ready = [c for c in pending if c.parent_slug is None or c.parent_slug in ids]
        if not ready:
            raise ValueError(f"categories without a parent: {[c.slug for c in pending]}")
        rows = [
            {"name": c.name, "slug": c.slug, "parent_id": ids.get(c.parent_slug or "")}
            for c in ready
        ]
        added += await seeds.add_categories(rows)
        ids |= await seeds.category_ids([c.slug for c in ready])
        pending = [c for c in pending if c not in ready]
    return added, ids


async def load_catalogue(
    session: AsyncSession, catalogue: Catalogue, progress: Progress = _silent
) -> LoadReport:
    """Add what is missing of ``catalogue``: categories, products, and a stock row per product.

    Args:
        session: The transaction to load in (the caller commits).
        catalogue: The generated catalogue.
        progress: Called with a line of text after each step.

    Returns:
        What was added.
    """
    seeds = SeedRepository(session)
    categories_added, category_ids = await load_categories(seeds, catalogue.categories)
    progress(f"categories: {len(catalogue.categories)} ({categories_added} new)")
    products_added = stock_added = 0
    total = len(catalogue.products)
    for start in range(0, total, BATCH_SIZE):
        batch = catalogue.products[start : start + BATCH_SIZE]
        rows = [{**p.fields(), "category_id": category_ids[p.category_slug]} for p in batch]
        products_added += await seeds.add_products(rows)
        product_ids = await seeds.product_ids([p.sku for p in batch])
        stock_added += await seeds.add_stock({product_ids[p.sku]: p.on_hand for p in batch})
        progress(f"products: {start + len(batch)}/{total} ({products_added} new so far)")
    return LoadReport(
        categories=len(catalogue.categories),
        categories_added=categories_added,
        products=total,
        products_added=products_added,
        stock_added=stock_added,
    )
