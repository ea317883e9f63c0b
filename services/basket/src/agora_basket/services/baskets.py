"""The basket use cases: read, set a quantity, remove, clear, merge a guest's basket at login.

Every answer is the whole basket priced by catalog (:mod:`agora_basket.services.pricing`), with
one ``GetProducts`` call per request. Reads fall back to the last known prices when catalog
cannot answer; adding or changing a line needs catalog's word on the product, so there the
``TargetUnavailable`` propagates (503 with ``Retry-After``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from agora_basket.repositories.baskets import BasketRepository
from agora_basket.schemas.basket import BasketRead
from agora_basket.schemas.lines import CatalogProduct, StoredLine
from agora_basket.services.catalog import CatalogProducts
from agora_basket.services.errors import (
    BasketFull,
    CurrencyMismatch,
    ProductNotForSale,
    ProductNotFound,
)
from agora_basket.services.pricing import price_basket
from agora_chassis.errors import ValidationFailed
from agora_chassis.service_client import TargetUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BasketLimits:
    """How much one basket may hold.

    Attributes:
        max_quantity: Most units of one product.
        max_lines: Most different products.
    """

    max_quantity: int
    max_lines: int


def user_owner(user_id: str) -> str:
    """The owner name of a signed-in user's basket."""
    return f"user:{user_id}"


def guest_owner(guest_id: str) -> str:
    """The owner name of a guest's basket (``guest_id`` as verified by ``GuestIds``)."""
    return f"guest:{guest_id}"


class BasketService:
    """One shopper's basket, priced by catalog.

    Args:
        baskets: Where baskets are kept.
        catalog: Where current product data comes from.
        limits: Quantity and line limits.
    """

    def __init__(
        self, baskets: BasketRepository, catalog: CatalogProducts, limits: BasketLimits
    ) -> None:
        self._baskets = baskets
        self._catalog = catalog
        self.limits = limits

    async def view(self, owner: str) -> BasketRead:
        """The owner's basket, priced now, or with the last known prices while catalog is out."""
        lines = await self._baskets.lines(owner)
        return price_basket(lines, await self._products_or_none(lines))

    async def set_quantity(self, owner: str, product_id: str, quantity: int) -> BasketRead:
        """Put ``quantity`` units of the product in the basket (0 removes its line).

        Args:
            owner: The basket's owner.
            product_id: The product (a UUID string).
            quantity: Units wanted, 0 to ``max_quantity``.

        Returns:
            The whole basket, priced.

        Raises:
            ValidationFailed: ``quantity`` is above the limit.
            BasketFull: The product is new and the basket holds the most lines.
            ProductNotFound: Catalog knows no such product.
            ProductNotForSale: The product was withdrawn.
            CurrencyMismatch: The product's currency is not the basket's.
            TargetUnavailable: Catalog cannot be asked (503).
        """
        if quantity == 0:
            return await self.remove(owner, product_id)
        if quantity > self.limits.max_quantity:
            raise ValidationFailed(f"At most {self.limits.max_quantity} units of one product.")
        lines = await self._baskets.lines(owner)
        if product_id not in lines and len(lines) >= self.limits.max_lines:
            raise BasketFull(self.limits.max_lines)
        products = await self._catalog.fetch([*lines, product_id])
        line = _new_line(product_id, quantity, products, lines)
        if not await self._baskets.put(owner, line, max_lines=self.limits.max_lines):
            raise BasketFull(self.limits.max_lines)  # another tab filled it meanwhile
        return price_basket({**lines, product_id: line}, products)

    async def remove(self, owner: str, product_id: str) -> BasketRead:
        """Remove the product's line (no error when there is none); the basket, priced."""
        await self._baskets.remove(owner, product_id)
        return await self.view(owner)

    async def clear(self, owner: str) -> BasketRead:
        """Empty the basket; the (empty) basket."""
        await self._baskets.clear(owner)
        return price_basket({}, {})

    async def merge(self, guest: str, user: str) -> BasketRead:
        """Move a guest's lines into the user's basket, once; the user's basket, priced.

        Args:
            guest: The guest basket's owner (``guest_owner``).
            user: The signed-in user's basket owner (``user_owner``).

        Returns:
            The user's basket.
        """
        outcome = await self._baskets.merge(
            guest, user, max_quantity=self.limits.max_quantity, max_lines=self.limits.max_lines
        )
        if outcome.dropped:
            logger.info("merge left out %d guest lines: the basket was full", outcome.dropped)
        return await self.view(user)

    async def _products_or_none(
        self, lines: Mapping[str, StoredLine]
    ) -> dict[str, CatalogProduct] | None:
        if not lines:
            return {}
        try:
            return await self._catalog.fetch(lines)
        except TargetUnavailable as error:
            # DEBUG: the breaker logs its opening once; a line per read would flood the log.
            logger.debug("serving last known prices: %s", error.detail)
            return None


def _new_line(
    product_id: str,
    quantity: int,
    products: Mapping[str, CatalogProduct],
    lines: Mapping[str, StoredLine],
) -> StoredLine:
    """The line to store, with the price the shopper sees now; refuses what cannot be sold."""
    product = products.get(product_id)
    if product is None:
        raise ProductNotFound(product_id)
    if not product.active:
        raise ProductNotForSale(product_id)
    others = {line.currency for other, line in lines.items() if other != product_id}
    if others and product.currency not in others:
        raise CurrencyMismatch(product_id, product.currency, min(others))
    return StoredLine(
        product_id=product_id,
        quantity=quantity,
        unit_price=product.unit_price,
        currency=product.currency,
        name=product.name,
        sku=product.sku,
    )
