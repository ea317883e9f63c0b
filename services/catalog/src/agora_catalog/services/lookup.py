"""Batch lookups for other services: products by id, and whether an order's lines are in stock.

Read straight from the database, never from the cache: ordering takes its prices from here, so a
price must be the committed one, not one cached before a change. Products by id are read on the
chassis ``Reader`` (one SELECT, no session: basket asks on every request); availability in a
session, as reservations will.
"""

from __future__ import annotations

import uuid
from collections import Counter

from agora_catalog.models import Product
from agora_catalog.repositories.products import ProductRepository, ProductSnapshots
from agora_catalog.schemas.lookup import (
    Availability,
    AvailabilityQuery,
    LineAvailability,
    LineStatus,
    ProductBatch,
)
from agora_chassis.reader import Row


def _line_status(product: Product | None, wanted: int) -> LineStatus:
    if product is None:
        return LineStatus.NOT_FOUND
    if not product.active:
        return LineStatus.INACTIVE
    return LineStatus.OK if product.available >= wanted else LineStatus.INSUFFICIENT_STOCK


class ProductLookup:
    """Availability checks of products and stock, for one transaction."""

    def __init__(self, products: ProductRepository) -> None:
        """Read through ``products``."""
        self.products = products

    async def check_availability(self, query: AvailabilityQuery) -> Availability:
        """Whether each line can be served now; reserves nothing.

        Lines naming the same product are checked against their sum, as reserving the order
        would check them.
        """
        wanted: Counter[uuid.UUID] = Counter()
        for line in query.lines:
            wanted[line.product_id] += line.quantity
        rows = await self.products.get_many(list(wanted)) if wanted else []
        found = {product.id: product for product in rows}
        answers = []
        for line in query.lines:
            product = found.get(line.product_id)
            listed = product is not None and product.active
            answers.append(
                LineAvailability(
                    product_id=line.product_id,
                    quantity=line.quantity,
                    available=product.available if product is not None and listed else 0,
                    status=_line_status(product, wanted[line.product_id]),
                )
            )
        return Availability(lines=answers)


class ProductBatches:
    """Products by id for other services, without a transaction."""

    def __init__(self, snapshots: ProductSnapshots) -> None:
        """Read through ``snapshots``."""
        self.snapshots = snapshots

    async def get_products(self, batch: ProductBatch) -> tuple[list[Row], list[uuid.UUID]]:
        """The products named in ``batch`` (withdrawn ones too) and the ids naming none.

        Both lists keep the order of the ids' first appearance; duplicates are answered once.
        Each product is a row of ``SNAPSHOTS_BY_IDS`` (``available`` is on hand less reserved).
        """
        wanted = list(dict.fromkeys(batch.product_ids))
        if not wanted:
            return [], []
        found = {row["id"]: row for row in await self.snapshots.many(wanted)}
        products = [found[product_id] for product_id in wanted if product_id in found]
        missing = [product_id for product_id in wanted if product_id not in found]
        return products, missing
