"""Events published by the ordering service (consumed by catalog, basket, payment, notification).

Defined ahead of the ordering service so its consumers can be built and tested against them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agora_contracts.envelope import EventPayload

MAX_LINES = 100
MAX_QUANTITY = 1000

_ORDER_ID = "01936d3c-9a10-7d2e-8f00-1a2b3c4d5e6f"
_BUYER_ID = "01936d3c-8f3a-7cc2-b6a1-2f0e4c5d6a7b"
_PRODUCT_ID = "01936d3c-7b00-7a11-9c22-334455667788"


class OrderLine(BaseModel):
    """One line of an order: a product and how many.

    Attributes:
        product_id: The catalog product.
        quantity: Units ordered (at least 1).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    product_id: uuid.UUID
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class OrderPlacedV1(EventPayload):
    """A buyer placed an order; catalog reserves its stock (all lines or none).

    Attributes:
        order_id: The order.
        buyer_id: The user who placed it.
        lines: What was ordered (distinct products).
        placed_at: When it was placed (UTC).
    """

    event_type: ClassVar[str] = "order.placed"
    version: ClassVar[int] = 1

    order_id: uuid.UUID
    buyer_id: uuid.UUID
    lines: list[OrderLine] = Field(min_length=1, max_length=MAX_LINES)
    placed_at: dt.datetime

    model_config = EventPayload.model_config | {
        "json_schema_extra": {
            "examples": [
                {
                    "order_id": _ORDER_ID,
                    "buyer_id": _BUYER_ID,
                    "lines": [{"product_id": _PRODUCT_ID, "quantity": 2}],
                    "placed_at": "2026-11-23T09:30:00Z",
                }
            ]
        }
    }


class OrderCancelledV1(EventPayload):
    """An order was cancelled; catalog releases its reservation.

    Attributes:
        order_id: The order.
        reason: Why, for people (``payment declined``, ``out of stock``...).
        cancelled_at: When (UTC).
    """

    event_type: ClassVar[str] = "order.cancelled"
    version: ClassVar[int] = 1

    order_id: uuid.UUID
    reason: str = Field(max_length=200)
    cancelled_at: dt.datetime

    model_config = EventPayload.model_config | {
        "json_schema_extra": {
            "examples": [
                {
                    "order_id": _ORDER_ID,
                    "reason": "payment declined",
                    "cancelled_at": "2026-11-23T09:31:00Z",
                }
            ]
        }
    }


class OrderPaidV1(EventPayload):
    """An order was paid; catalog turns its reservation into a sale (stock leaves the shelf).

    Attributes:
        order_id: The order.
        paid_at: When (UTC).
    """

    event_type: ClassVar[str] = "order.paid"
    version: ClassVar[int] = 1

    order_id: uuid.UUID
    paid_at: dt.datetime

    model_config = EventPayload.model_config | {
        "json_schema_extra": {
            "examples": [{"order_id": _ORDER_ID, "paid_at": "2026-11-23T09:32:00Z"}]
        }
    }
