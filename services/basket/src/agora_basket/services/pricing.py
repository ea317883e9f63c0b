"""Prices a stored basket with catalog's current products: flags, line totals, the total.

Pure functions: no I/O, so every rule is unit-tested on plain values. Amounts are ``Decimal``
throughout and rounded half-up to the currency's cents only where a total is formed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from agora_basket.schemas.basket import BasketLineRead, BasketRead
from agora_basket.schemas.lines import CatalogProduct, StoredLine

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
IMAGE_PATH = "/images/products/{sku}.svg"
"""Where catalog draws a product's image (catalog's ``images`` router)."""


def image_url(sku: str) -> str:
    """The public path of a product's image."""
    return IMAGE_PATH.format(sku=sku)


def line_total(unit_price: Decimal, quantity: int) -> Decimal:
    """``unit_price`` times ``quantity``, rounded half-up to cents."""
    return (unit_price * quantity).quantize(CENT, rounding=ROUND_HALF_UP)


def price_line(line: StoredLine, product: CatalogProduct | None) -> BasketLineRead:
    """One line with catalog's current data about its product.

    Args:
        line: The stored line.
        product: What catalog says now; ``None`` when catalog no longer knows the product.

    Returns:
        The line, flagged when the price changed, stock is short, or it cannot be bought.
    """
    if product is None or not product.active:
        return BasketLineRead(
            product_id=uuid.UUID(line.product_id),
            sku=line.sku if product is None else product.sku,
            name=line.name if product is None else product.name,
            image_url=image_url(line.sku),
            quantity=line.quantity,
            unit_price=line.unit_price,
            currency=line.currency,
            line_total=ZERO,
            available=0,
            unavailable=True,
        )
    changed = product.unit_price != line.unit_price or product.currency != line.currency
    return BasketLineRead(
        product_id=uuid.UUID(line.product_id),
        sku=product.sku,
        name=product.name,
        image_url=image_url(product.sku),
        quantity=line.quantity,
        unit_price=product.unit_price,
        currency=product.currency,
        line_total=line_total(product.unit_price, line.quantity),
        price_changed=changed,
        previous_unit_price=line.unit_price if changed else None,
        short_stock=product.available < line.quantity,
        available=product.available,
    )


def stale_line(line: StoredLine) -> BasketLineRead:
    """One line with the last known price, for when catalog cannot be asked.

    The last known price is the one a ``product.price_changed`` event brought, if any came
    since the shopper set the line (flagged as a change), else the one the shopper saw.
    """
    price = line.known_price if line.known_price is not None else line.unit_price
    currency = line.known_currency or line.currency
    changed = price != line.unit_price or currency != line.currency
    return BasketLineRead(
        product_id=uuid.UUID(line.product_id),
        sku=line.sku,
        name=line.name,
        image_url=image_url(line.sku),
        quantity=line.quantity,
        unit_price=price,
        currency=currency,
        line_total=line_total(price, line.quantity),
        price_changed=changed,
        previous_unit_price=line.unit_price if changed else None,
        stale=True,
    )


def price_basket(
    lines: Mapping[str, StoredLine], products: Mapping[str, CatalogProduct] | None
) -> BasketRead:
    """The whole basket, priced.

    Args:
        lines: The stored lines by product id.
        products: Catalog's answer by product id (missing ids absent); ``None`` when catalog
            could not be asked, so every line keeps its last known price, marked stale.

    Returns:
        The basket, lines ordered by name, totals over the lines that can be bought.
    """
    if products is None:
        priced = [stale_line(line) for line in lines.values()]
    else:
        priced = [price_line(line, products.get(line.product_id)) for line in lines.values()]
    priced.sort(key=lambda line: (line.name, str(line.product_id)))
    buyable = [line for line in priced if not line.unavailable]
    return BasketRead(
        lines=priced,
        total_quantity=sum(line.quantity for line in buyable),
        total=sum((line.line_total for line in buyable), ZERO),
        currency=buyable[0].currency if buyable else None,
        stale=products is None and bool(priced),
    )
