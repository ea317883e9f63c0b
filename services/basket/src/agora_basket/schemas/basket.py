"""The basket's REST DTOs. Money is ``Decimal``, serialised as a JSON string, never a float."""

from __future__ import annotations

import uuid
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from agora_basket.settings import MAX_QUANTITY


class ItemQuantity(BaseModel):
    """Body of ``PUT /api/v1/basket/items/{product_id}``: how many units (0 removes the line)."""

    model_config = ConfigDict(extra="forbid")

    quantity: int = Field(ge=0, le=MAX_QUANTITY)


class BasketLineRead(BaseModel):
    """One line, priced with catalog's current data (or the last known, marked ``stale``).

    Attributes:
        product_id: The product.
        sku: Its stock keeping unit.
        name: Its name.
        image_url: Catalog's image of the product (a path on the public entrypoint).
        quantity: Units in the basket.
        unit_price: The current unit price (the last known when ``stale``).
        currency: The price's ISO 4217 code.
        line_total: ``unit_price`` times ``quantity``; 0 when the product cannot be bought.
        price_changed: The price differs from the one shown when the line was last set.
        previous_unit_price: That earlier price, when it changed.
        short_stock: Fewer units are free than the line asks for.
        available: Units free to order (``None`` when ``stale``).
        unavailable: The product was withdrawn or no longer exists.
        stale: Catalog could not be asked: the price is the last known one.
    """

    product_id: uuid.UUID
    sku: str
    name: str
    image_url: str
    quantity: int
    unit_price: Decimal
    currency: str
    line_total: Decimal
    price_changed: bool = False
    previous_unit_price: Decimal | None = None
    short_stock: bool = False
    available: int | None = None
    unavailable: bool = False
    stale: bool = False


class BasketRead(BaseModel):
    """A whole basket, as every read and write answers it.

    Attributes:
        lines: The lines, ordered by product name (then id).
        total_quantity: Units over all lines.
        total: Sum of the line totals.
        currency: The basket's currency (``None`` while it is empty).
        stale: Some prices are the last known ones (catalog could not be asked).
    """

    lines: list[BasketLineRead]
    total_quantity: int
    total: Decimal
    currency: str | None
    stale: bool = False
