"""Events published by the catalog service."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agora_contracts.envelope import EventPayload
from agora_contracts.money import CURRENCY_LENGTH
from agora_contracts.ordering import MAX_LINES, OrderLine

_ORDER_ID = "01936d3c-9a10-7d2e-8f00-1a2b3c4d5e6f"
_PRODUCT_ID = "01936d3c-7b00-7a11-9c22-334455667788"


class StockReservedV1(EventPayload):
    """Every line of an order is reserved; ordering can ask for payment.

    Attributes:
        order_id: The order.
        lines: The reserved lines (as ordered).
        reserved_at: When (UTC).
    """

    event_type: ClassVar[str] = "stock.reserved"
    version: ClassVar[int] = 1

    order_id: uuid.UUID
    lines: list[OrderLine] = Field(min_length=1, max_length=MAX_LINES)
    reserved_at: dt.datetime

    model_config = EventPayload.model_config | {
        "json_schema_extra": {
            "examples": [
                {
                    "order_id": _ORDER_ID,
                    "lines": [{"product_id": _PRODUCT_ID, "quantity": 2}],
                    "reserved_at": "2026-11-23T09:30:01Z",
                }
            ]
        }
    }


class ShortLine(BaseModel):
    """A line catalog could not reserve.

    Attributes:
        product_id: The product (unknown, inactive or short of stock).
        requested: Units ordered.
        available: Units free to reserve (0 for an unknown or inactive product).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    product_id: uuid.UUID
    requested: int = Field(ge=1)
    available: int = Field(ge=0)


class StockRejectedV1(EventPayload):
    """An order could not be reserved: nothing was reserved (all lines or none).

    Attributes:
        order_id: The order.
        short: The lines that could not be served.
        rejected_at: When (UTC).
    """

    event_type: ClassVar[str] = "stock.rejected"
    version: ClassVar[int] = 1

    order_id: uuid.UUID
    short: list[ShortLine] = Field(min_length=1, max_length=MAX_LINES)
    rejected_at: dt.datetime

    model_config = EventPayload.model_config | {
        "json_schema_extra": {
            "examples": [
                {
                    "order_id": _ORDER_ID,
                    "short": [{"product_id": _PRODUCT_ID, "requested": 2, "available": 1}],
                    "rejected_at": "2026-11-23T09:30:01Z",
                }
            ]
        }
    }


class ProductPriceChangedV1(EventPayload):
    """An admin changed a product's price (baskets show the new one).

    Attributes:
        product_id: The product.
        sku: Its stock-keeping unit.
        old_price: The price before.
        new_price: The price now.
        currency: ISO 4217 code of both prices.
        changed_at: When (UTC).
    """

    event_type: ClassVar[str] = "product.price_changed"
    version: ClassVar[int] = 1

    product_id: uuid.UUID
    sku: str = Field(min_length=1, max_length=64)
    old_price: Decimal = Field(ge=0, decimal_places=2)
    new_price: Decimal = Field(ge=0, decimal_places=2)
    currency: str = Field(min_length=CURRENCY_LENGTH, max_length=CURRENCY_LENGTH)
    changed_at: dt.datetime

    model_config = EventPayload.model_config | {
        "json_schema_extra": {
            "examples": [
                {
                    "product_id": _PRODUCT_ID,
                    "sku": "AG-000042",
                    "old_price": "19.99",
                    "new_price": "17.49",
                    "currency": "EUR",
                    "changed_at": "2026-11-23T09:00:00Z",
                }
            ]
        }
    }
