"""Product use cases for admins: writes with optimistic concurrency (reads: ``services.reads``).

Writes refuse to run without a precondition (``If-Match`` with the ETag, or ``version`` in the
body): an update based on a stale read is refused (412 or 409) instead of silently overwriting
someone else's change, and a race between two writers that both passed the check is caught by the
row's ``version_id``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from decimal import Decimal
from functools import lru_cache

from agora_catalog.models import Product, Stock
from agora_catalog.repositories.categories import CategoryRepository
from agora_catalog.repositories.products import ProductRepository
from agora_catalog.schemas.product import (
    ProductCreate,
    ProductUpdate,
    StockAdjustment,
    StockRead,
)
from agora_catalog.services.audit import CatalogAudit
from agora_catalog.services.cache import ProductCache
from agora_catalog.services.errors import (
    InsufficientStock,
    PreconditionRequired,
    ProductNotFound,
    ProductReserved,
    SkuTaken,
    StalePrecondition,
    StaleVersion,
    UnknownCategory,
)
from agora_catalog.services.reads import render
from agora_chassis.audit import Auditor
from agora_chassis.outbox import build_event
from agora_contracts.catalog import ProductPriceChangedV1

logger = logging.getLogger(__name__)

SOURCE = "/agora/catalog"
ETAG_LENGTH = 32
ETAGS_REMEMBERED = 512


@lru_cache(maxsize=ETAGS_REMEMBERED)
def fingerprint(body: bytes) -> str:
    """The entity tag of a representation: a hash of its bytes (quoted, as HTTP sends it).

    Remembered for the most recent bodies: a cached read hands over the same ``bytes`` object each
    time, whose own hash Python keeps, so its tag costs a lookup instead of a SHA-256.
    """
    return '"' + hashlib.sha256(body).hexdigest()[:ETAG_LENGTH] + '"'


class ProductService:
    """Products and stock, for one transaction; every change is audited in that transaction."""

    def __init__(
        self,
        products: ProductRepository,
        categories: CategoryRepository,
        cache: ProductCache,
        auditor: Auditor,
    ) -> None:
        """Work through ``products`` and ``categories``, caching in ``cache``, auditing changes."""
        self.products = products
        self.categories = categories
        self.cache = cache
        self.auditor = auditor

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
        await self.auditor.record(
            CatalogAudit.PRODUCT_CREATED, product_id=str(product.id), sku=product.sku
        )
        logger.info("product %s created (SKU %s)", product.id, product.sku)
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
        price_changed = (product.price, product.currency) != (old_price, old_currency)
        if price_changed:
            self._price_changed(product, old_price)
        await self._audit_change(product, sorted(fields), old_price if price_changed else None)
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
        await self.auditor.record(
            CatalogAudit.PRODUCT_DELETED, product_id=str(product_id), sku=product.sku
        )
        logger.info("product %s deleted (SKU %s)", product_id, product.sku)
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
        await self.auditor.record(
            CatalogAudit.STOCK_ADJUSTED,
            product_id=str(product_id),
            delta=adjustment.delta,
            reason=adjustment.reason,
            on_hand=on_hand,
        )
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

    async def _audit_change(
        self, product: Product, fields: list[str], old_price: Decimal | None
    ) -> None:
        """Record which fields an admin changed (and the prices, when the price changed)."""
        prices = {}
        if old_price is not None:
            prices = {"old_price": str(old_price), "new_price": str(product.price)}
        await self.auditor.record(
            CatalogAudit.PRODUCT_CHANGED, product_id=str(product.id), fields=fields, **prices
        )
        logger.info("product %s changed (%s)", product.id, ", ".join(fields) or "nothing")

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
        self.products.add_event(event)

    def _invalidate_after_commit(self, product: Product) -> None:
        product_id, sku, cache = product.id, product.sku, self.cache

        async def invalidate() -> None:
            await cache.invalidate(product_id, sku)

        self.products.after_commit(invalidate)
