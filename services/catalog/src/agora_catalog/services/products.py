"""Product use cases: cached reads for shoppers, and admin writes with optimistic concurrency.

Reads return the JSON body itself (``bytes``), exactly as cached, so a cache hit costs no
serialisation and the ETag is the hash of the bytes sent. Writes refuse to run without a
precondition (``If-Match`` with the ETag, or ``version`` in the body): an update based on a stale
read is refused (412 or 409) instead of silently overwriting someone else's change, and a race
between two writers that both passed the check is caught by the row's ``version_id``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal

from agora_catalog.models import OutboxMessage, Product, Stock
from agora_catalog.repositories.categories import CategoryRepository
from agora_catalog.repositories.products import ProductRepository
from agora_catalog.schemas.product import (
    ProductCreate,
    ProductRead,
    ProductUpdate,
    StockAdjustment,
    StockRead,
)
from agora_catalog.schemas.query import ProductQuery
from agora_catalog.services.cache import ProductCache, product_key, sku_key
from agora_catalog.services.errors import (
    InsufficientStock,
    PreconditionRequired,
    ProductNotFound,
    ProductReserved,
    SkuTaken,
    StalePrecondition,
    StaleVersion,
    UnknownCategory,
    UnknownCategoryFilter,
)
from agora_chassis.db import after_commit
from agora_chassis.outbox import add_event, build_event
from agora_chassis.pagination import Page, PageParams
from agora_contracts.catalog import ProductPriceChangedV1

logger = logging.getLogger(__name__)

SOURCE = "/agora/catalog"
ETAG_LENGTH = 32


def fingerprint(body: bytes) -> str:
    """The entity tag of a representation: a hash of its bytes (quoted, as HTTP sends it)."""
    return '"' + hashlib.sha256(body).hexdigest()[:ETAG_LENGTH] + '"'


def render(product: Product) -> bytes:
    """The JSON body of a product, as shoppers and the cache see it."""
    return ProductRead.model_validate(product).model_dump_json().encode()


class ProductService:
    """Products and stock, for one transaction."""

    def __init__(
        self, products: ProductRepository, categories: CategoryRepository, cache: ProductCache
    ) -> None:
        """Work through ``products`` and ``categories``, caching in ``cache``."""
        self.products = products
        self.categories = categories
        self.cache = cache

    async def read(self, product_id: uuid.UUID) -> bytes:
        """The product's JSON (cached); inactive products are not found."""
        return await self._read_cached(
            product_key(product_id),
            lambda: self.products.get(product_id),
            f"no product {product_id}",
        )

    async def read_by_sku(self, sku: str) -> bytes:
        """The JSON of the product with this SKU (cached); inactive products are not found."""
        return await self._read_cached(
            sku_key(sku), lambda: self.products.get_by_sku(sku), f"no product with SKU {sku!r}"
        )

    async def _read_cached(
        self, key: str, load: Callable[[], Awaitable[Product | None]], missing: str
    ) -> bytes:
        if (cached := await self.cache.get(key)) is not None:
            return cached
        generation = await self.cache.generation()  # before the read: see ProductCache
        product = await load()
        if product is None or not product.active:
            raise ProductNotFound(missing)
        body = render(product)
        await self.cache.put_if_generation(key, body, self.cache.product_ttl, generation)
        return body

    async def search(self, query: ProductQuery, page: PageParams) -> bytes:
        """One page of matching products as a JSON pagination envelope (cached)."""
        key = await self.cache.list_key(query.cache_key(page.page, page.per_page))
        if key is not None and (cached := await self.cache.get(key)) is not None:
            return cached
        if query.category is not None and not await self.categories.get_by_slug(query.category):
            allowed = await self.categories.slugs()
            raise UnknownCategoryFilter(
                f"unknown category {query.category!r}", extra={"allowed": allowed}
            )
        items, total = await self.products.search(query, offset=page.offset, limit=page.per_page)
        reads = [ProductRead.model_validate(item) for item in items]
        body = Page[ProductRead].of(reads, total, page).model_dump_json().encode()
        if key is not None:
            await self.cache.put(key, body, self.cache.list_ttl)
        return body

    async def create(self, data: ProductCreate) -> Product:
        """Add a product with its starting stock."""
        if await self.products.get_by_sku(data.sku) is not None:
            raise SkuTaken(f"SKU {data.sku!r} is already in use")
        await self._check_category(data.category_id)
        fields = data.model_dump(exclude={"on_hand"})
        product = Product(**fields, stock=Stock(on_hand=data.on_hand, reserved=0))
        self.products.add(product)
        await self.products.flush()
        # As stored, so the ETag sent now is the one later reads send (``12.5`` is read as
        # ``12.50``, JSONB reorders keys).
        await self.products.refresh(product)
        self._invalidate_after_commit(product)
        return product

    async def update(
        self, product_id: uuid.UUID, changes: ProductUpdate, if_match: str | None
    ) -> Product:
        """Apply ``changes`` if the caller saw the current version; a price change is an event."""
        product = await self._current(product_id, if_match, changes.version)
        fields = changes.changes()
        if "category_id" in fields:
            await self._check_category(fields["category_id"])
        old_price, old_currency = product.price, product.currency
        for name, value in fields.items():
            setattr(product, name, value)
        await self.products.flush()  # a concurrent writer's commit makes this raise StaleDataError
        await self.products.refresh(product)  # as stored, like ``create``
        if (product.price, product.currency) != (old_price, old_currency):
            self._price_changed(product, old_price)
        self._invalidate_after_commit(product)
        return product

    async def delete(self, product_id: uuid.UUID, if_match: str | None) -> None:
        """Delete a product (and its stock) if the caller saw the current version."""
        product = await self._current(product_id, if_match, version=None)
        if product.stock.reserved:
            raise ProductReserved(
                f"{product.stock.reserved} units are reserved for open orders; "
                "deactivate the product instead"
            )
        await self.products.delete(product)
        await self.products.flush()
        self._invalidate_after_commit(product)

    async def stock(self, product_id: uuid.UUID) -> StockRead:
        """A product's stock figures (admin)."""
        product = await self.products.get(product_id)
        if product is None:
            raise ProductNotFound(f"no product {product_id}")
        return StockRead.model_validate(product.stock)

    async def adjust_stock(self, product_id: uuid.UUID, adjustment: StockAdjustment) -> StockRead:
        """Add or remove units on the shelf; never below zero nor below what is reserved."""
        product = await self.products.get(product_id)
        if product is None:
            raise ProductNotFound(f"no product {product_id}")
        stock = (await self.products.lock_stock([product_id]))[product_id]
        on_hand = stock.on_hand + adjustment.delta
        if on_hand < stock.reserved:
            raise InsufficientStock(
                f"{stock.on_hand} on hand, {stock.reserved} reserved: cannot remove "
                f"{-adjustment.delta}"
            )
        stock.on_hand = on_hand
        await self.products.flush()
        logger.info(
            "stock of %s adjusted by %+d (%s)", product_id, adjustment.delta, adjustment.reason
        )
        self._invalidate_after_commit(product)
        return StockRead.model_validate(stock)

    async def _current(
        self, product_id: uuid.UUID, if_match: str | None, version: int | None
    ) -> Product:
        """The product, if the caller's precondition names its current version."""
        if if_match is None and version is None:
            raise PreconditionRequired("send If-Match with the product's ETag, or its version")
        product = await self.products.get(product_id)
        if product is None:
            raise ProductNotFound(f"no product {product_id}")
        if if_match is not None and if_match.strip() not in {"*", fingerprint(render(product))}:
            raise StalePrecondition("the product changed since you read it; reload it")
        if version is not None and version != product.version_id:
            raise StaleVersion(
                f"version {version} is stale; the product is at {product.version_id}"
            )
        return product

    async def _check_category(self, category_id: uuid.UUID) -> None:
        if await self.categories.get(category_id) is None:
            raise UnknownCategory(f"no category {category_id}")

    def _price_changed(self, product: Product, old_price: Decimal) -> None:
        payload = ProductPriceChangedV1(
            product_id=product.id,
            sku=product.sku,
            old_price=old_price,
            new_price=product.price,
            currency=product.currency,
            changed_at=dt.datetime.now(dt.UTC),
        )
        event = build_event(payload, source=SOURCE, subject=str(product.id))
        add_event(self.products.session, OutboxMessage, event)

    def _invalidate_after_commit(self, product: Product) -> None:
        product_id, sku, cache = product.id, product.sku, self.cache

        async def invalidate() -> None:
            await cache.invalidate(product_id, sku)

        after_commit(self.products.session, invalidate)
