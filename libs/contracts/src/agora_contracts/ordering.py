"""Events published by the ordering service (consumed by catalog, basket, payment, notification).

Defined ahead of the ordering service so its consumers can be built and tested against them.
The checkout saga's messages are listed in ``docs/design/checkout-saga.md``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agora_contracts.envelope import EventPayload
from agora_contracts.money import Amount, Currency

MAX_LINES = 100
MAX_QUANTITY = 1000

_ORDER_ID = "01936d3c-9a10-7d2e-8f00-1a2b3c4d5e6f"
_BUYER_ID = "01936d3c-8f3a-7cc2-b6a1-2f0e4c5d6a7b"
_PRODUCT_ID = "01936d3c-7b00-7a11-9c22-334455667788"
_PAYMENT_ID = "01936d3c-a100-7b3c-9d4e-5f6a7b8c9d0e"
PAYMENT_TOKEN_MAX = 200
REASON_MAX = 200


class CancellationReason(StrEnum):
    """Why an order was cancelled, for machines (``OrderCancelledV1.reason_code``)."""

    OUT_OF_STOCK = "out_of_stock"
    PAYMENT_DECLINED = "payment_declined"
    TIMED_OUT = "timed_out"
    CANCELLED_BY_CUSTOMER = "cancelled_by_customer"


class RefundReason(StrEnum):
    """Why ordering asks payment to give a charge back (``OrderRefundRequestedV1.reason``)."""

    ORDER_CANCELLED = "order_cancelled"
    """The charge succeeded after the order was cancelled (a timeout or the customer won)."""
    DUPLICATE_CHARGE = "duplicate_charge"
    """The order is paid by another charge already."""


class OrderLine(BaseModel):
    """One line of an order: a product and how many.

    Attributes:
        product_id: The catalog product.
        quantity: Units ordered (at least 1).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    product_id: uuid.UUID
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


NAME_MAX = 200
ADDRESS_LINE_MAX = 200
POSTAL_CODE_MAX = 20
COUNTRY_LENGTH = 2


class ShippingAddress(BaseModel):
    """Where an order goes (validated by ordering when the order is placed).

    Attributes:
        name: The recipient's name.
        street: Street and number (one line).
        postal_code: The postal code, as written in that country.
        city: The city.
        country: ISO 3166-1 alpha-2 code, upper case (``DE``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=NAME_MAX)
    street: str = Field(min_length=1, max_length=ADDRESS_LINE_MAX)
    postal_code: str = Field(min_length=1, max_length=POSTAL_CODE_MAX)
    city: str = Field(min_length=1, max_length=ADDRESS_LINE_MAX)
    country: str = Field(min_length=COUNTRY_LENGTH, max_length=COUNTRY_LENGTH, pattern="^[A-Z]{2}$")


class ReceiptLine(BaseModel):
    """One line of a receipt, as the customer's e-mail shows it.

    Attributes:
        product_id: The catalog product.
        name: Its name when the order was placed.
        quantity: Units ordered.
        unit_price: Catalog's price per unit when the order was placed.
        subtotal: Quantity times unit price.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    product_id: uuid.UUID
    name: str = Field(min_length=1, max_length=NAME_MAX)
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    unit_price: Amount
    subtotal: Amount


class OrderReceipt(BaseModel):
    """What an order holds, carried by its final event so notification needs no call back.

    Attributes:
        buyer_id: Who placed it (notification finds the address it writes to by this id).
        lines: What was ordered.
        total: What it costs.
        currency: ISO 4217 code of every amount.
        ship_to: Where it goes.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    buyer_id: uuid.UUID
    lines: list[ReceiptLine] = Field(min_length=1, max_length=MAX_LINES)
    total: Amount
    currency: Currency
    ship_to: ShippingAddress


_RECEIPT_EXAMPLE: dict[str, Any] = {
    "buyer_id": _BUYER_ID,
    "lines": [
        {
            "product_id": _PRODUCT_ID,
            "name": "Trail running shoe",
            "quantity": 2,
            "unit_price": "24.99",
            "subtotal": "49.98",
        }
    ],
    "total": "49.98",
    "currency": "EUR",
    "ship_to": {
        "name": "Ada Lovelace",
        "street": "12 Analytical Row",
        "postal_code": "10115",
        "city": "Berlin",
        "country": "DE",
    },
}


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
        reason_code: Why, for machines; added compatibly (optional), absent from older events.
        receipt: The order, for the customer's cancellation e-mail; optional like
            ``reason_code``.
    """

    event_type: ClassVar[str] = "order.cancelled"
    version: ClassVar[int] = 1

    order_id: uuid.UUID
    reason: str = Field(max_length=REASON_MAX)
    cancelled_at: dt.datetime
    reason_code: CancellationReason | None = None
    receipt: OrderReceipt | None = None

    model_config = EventPayload.model_config | {
        "json_schema_extra": {
            "examples": [
                {
                    "order_id": _ORDER_ID,
                    "reason": "payment declined",
                    "cancelled_at": "2026-11-23T09:31:00Z",
                },
                {
                    "order_id": _ORDER_ID,
                    "reason": "no payment within 15 minutes",
                    "cancelled_at": "2026-11-23T09:45:00Z",
                    "reason_code": "timed_out",
                    "receipt": _RECEIPT_EXAMPLE,
                },
            ]
        }
    }


class OrderPaidV1(EventPayload):
    """An order was paid; catalog turns its reservation into a sale (stock leaves the shelf).

    Attributes:
        order_id: The order.
        paid_at: When (UTC).
        receipt: The order, for the customer's confirmation e-mail; added compatibly
            (optional), absent from older events.
    """

    event_type: ClassVar[str] = "order.paid"
    version: ClassVar[int] = 1

    order_id: uuid.UUID
    paid_at: dt.datetime
    receipt: OrderReceipt | None = None

    model_config = EventPayload.model_config | {
        "json_schema_extra": {
            "examples": [
                {"order_id": _ORDER_ID, "paid_at": "2026-11-23T09:32:00Z"},
                {
                    "order_id": _ORDER_ID,
                    "paid_at": "2026-11-23T09:32:00Z",
                    "receipt": _RECEIPT_EXAMPLE,
                },
            ]
        }
    }


class OrderAwaitingPaymentV1(EventPayload):
    """An order's stock is reserved; payment charges it (idempotency key: the order id).

    Attributes:
        order_id: The order (also the provider's idempotency key: one charge per order).
        buyer_id: The user who placed it.
        amount: What to charge, two decimal places.
        currency: ISO 4217 code of ``amount``.
        payment_token: The provider's token for the buyer's card (never the card number).
        deadline: When ordering stops waiting and cancels the order; a charge that has not
            started by then should not start.
        requested_at: When (UTC).
    """

    event_type: ClassVar[str] = "order.awaiting_payment"
    version: ClassVar[int] = 1

    order_id: uuid.UUID
    buyer_id: uuid.UUID
    amount: Amount
    currency: Currency
    payment_token: str = Field(min_length=1, max_length=PAYMENT_TOKEN_MAX)
    deadline: dt.datetime
    requested_at: dt.datetime

    model_config = EventPayload.model_config | {
        "json_schema_extra": {
            "examples": [
                {
                    "order_id": _ORDER_ID,
                    "buyer_id": _BUYER_ID,
                    "amount": "49.98",
                    "currency": "EUR",
                    "payment_token": "tok_4f1c2a9e8b7d6c5a",
                    "deadline": "2026-11-23T09:45:01Z",
                    "requested_at": "2026-11-23T09:30:01Z",
                }
            ]
        }
    }


class OrderRefundRequestedV1(EventPayload):
    """Ordering asks payment to refund a charge it cannot keep (a command, sent as an event).

    Published as ``order.*`` (ordering's own channel family), not ``payment.*``, which ordering
    consumes: a service never subscribes to what it publishes.

    Attributes:
        order_id: The order the charge was for.
        payment_id: Payment's id of the charge to refund (from ``payment.succeeded``).
        amount: The charge's amount (all of it is refunded).
        currency: ISO 4217 code of ``amount``.
        reason: Why the charge cannot be kept.
        requested_at: When (UTC).
    """

    event_type: ClassVar[str] = "order.refund_requested"
    version: ClassVar[int] = 1

    order_id: uuid.UUID
    payment_id: uuid.UUID
    amount: Amount
    currency: Currency
    reason: RefundReason
    requested_at: dt.datetime

    model_config = EventPayload.model_config | {
        "json_schema_extra": {
            "examples": [
                {
                    "order_id": _ORDER_ID,
                    "payment_id": _PAYMENT_ID,
                    "amount": "49.98",
                    "currency": "EUR",
                    "reason": "order_cancelled",
                    "requested_at": "2026-11-23T09:46:00Z",
                }
            ]
        }
    }
