"""SQL for products and their stock. Returns models; never commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, any_, bindparam, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora_catalog.models import Category, OutboxMessage, Product, Stock
from agora_catalog.repositories.search_terms import conditions, relevance
from agora_catalog.schemas.query import ProductQuery
from agora_catalog.schemas.search import SearchPlan
from agora_chassis.db import AfterCommitHook, after_commit
from agora_chassis.outbox import add_event
from agora_chassis.reader import Reader, Row
from agora_contracts.envelope import CloudEvent


def _category_and_descendants(slug: str) -> Select[tuple[uuid.UUID]]:
    tree = select(Category.id).where(Category.slug == slug).cte("tree", recursive=True)
    tree = tree.union_all(select(Category.id).where(Category.parent_id == tree.c.id))
    return select(tree.c.id)


def _filters(query: ProductQuery, plan: SearchPlan | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Product.active.is_(True)]
    if query.category is not None:
        where.append(Product.category_id.in_(_category_and_descendants(query.category)))
    if query.brand is not None:
        where.append(func.lower(Product.brand) == query.brand.lower())
    if query.min_price is not None:
        where.append(Product.price >= query.min_price)
    if query.max_price is not None:
        where.append(Product.price <= query.max_price)
    if query.in_stock is not None:
        has_units = exists().where(Stock.product_id == Product.id, Stock.on_hand > Stock.reserved)
        where.append(has_units if query.in_stock else ~has_units)
    if plan is not None:
        where += conditions(plan)
    return where


def _order_by(query: ProductQuery, plan: SearchPlan | None) -> list[Any]:
    sort, order = query.effective_sort
    if sort == "relevance":
        # ProductQuery refuses relevance without q, and the reads give a plan with every q.
        key: Any = relevance(plan) if plan is not None else Product.created_at
    else:
        key = {"price": Product.price, "name": Product.name, "newest": Product.created_at}[sort]
    # The id breaks ties, so the order is total and pages never overlap or skip.
    if order == "desc":
        return [key.desc(), Product.id.desc()]
    return [key.asc(), Product.id.asc()]


class ProductRepository:
    """Products and stock of one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        """Work in ``session``'s transaction."""
        self.session = session

    async def get(self, product_id: uuid.UUID, *, for_update: bool = False) -> Product | None:
        """The product with this id (and its stock), or ``None``."""
        return await self.session.get(Product, product_id, with_for_update=for_update or None)

    async def get_by_sku(self, sku: str) -> Product | None:
        """The product with this SKU, or ``None``."""
        return await self.session.scalar(select(Product).where(Product.sku == sku))

    async def search(
        self, query: ProductQuery, plan: SearchPlan | None, *, offset: int, limit: int
    ) -> tuple[list[Product], int]:
        """One page of active products matching ``query``'s filters and ``plan``, and the total.

        ``plan`` is what ``query.q`` expands to (``services.search``); ``q`` itself is not read.
        """
        where = _filters(query, plan)
        total = await self.session.scalar(select(func.count()).select_from(Product).where(*where))
        order = _order_by(query, plan)
        rows = await self.session.scalars(
            select(Product).where(*where).order_by(*order).offset(offset).limit(limit)
        )
        return list(rows.unique()), total or 0

    async def get_many(self, product_ids: list[uuid.UUID]) -> list[Product]:
        """The products among ``product_ids`` that exist (any order)."""
        rows = await self.session.scalars(select(Product).where(Product.id.in_(product_ids)))
        return list(rows.unique())

    def add(self, product: Product) -> None:
        """Stage a new product (inserted at the next flush)."""
        self.session.add(product)

    async def delete(self, product: Product) -> None:
        """Stage the product's deletion (its stock goes with it)."""
        await self.session.delete(product)

    async def flush(self) -> None:
        """Send pending changes now (to see constraint violations inside the transaction)."""
        await self.session.flush()

    def add_event(self, event: CloudEvent) -> None:
        """Stage an event in the outbox, published once this transaction commits."""
        add_event(self.session, OutboxMessage, event)

    def after_commit(self, hook: AfterCommitHook) -> None:
        """Run ``hook`` once this transaction commits (never after a rollback)."""
        after_commit(self.session, hook)

    async def refresh(self, product: Product) -> None:
        """Re-read the product as stored (JSONB key order, ``Numeric`` scale), after a flush."""
        await self.session.refresh(product)

    async def lock_stock(self, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, Stock]:
        """Lock the stock rows of ``product_ids`` in id order (no deadlocks) and return them.

        The rows are re-read under the lock (``populate_existing``), even if the session already
        holds them: figures read before the lock may be stale.
        """
        rows = await self.session.scalars(
            select(Stock)
            .where(Stock.product_id.in_(product_ids))
            .order_by(Stock.product_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return {stock.product_id: stock for stock in rows}


_products, _stock = Product.__table__.c, Stock.__table__.c
SNAPSHOTS_BY_IDS = (
    select(
        _products.id,
        _products.sku,
        _products.name,
        _products.price,
        _products.currency,
        _products.active,
        (_stock.on_hand - _stock.reserved).label("available"),
    )
    .join_from(Product.__table__, Stock.__table__, _stock.product_id == _products.id)
    .where(_products.id == any_(bindparam("ids")))
)
"""What another service sees of a product (``catalog.v1.Product``), for a list of ids."""


class ProductSnapshots:
    """Products and their stock as plain rows, read without a transaction.

    For batch look-ups that change nothing: one statement on the chassis
    :class:`~agora_chassis.reader.Reader` (no session, no entities; ADR 0018). One statement
    sees one committed snapshot, so a price and its stock always belong together.
    """

    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    async def many(self, product_ids: list[uuid.UUID]) -> list[Row]:
        """The rows (:data:`SNAPSHOTS_BY_IDS`) of the products among ``product_ids`` that exist."""
        return await self.reader.fetch(SNAPSHOTS_BY_IDS, ids=product_ids)
