"""Ordering's REST bodies: placing an order, and an order as its customer or an admin sees it."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Self

import pycountry
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agora_contracts.ordering import (
    ADDRESS_LINE_MAX,
    NAME_MAX,
    PAYMENT_TOKEN_MAX,
    POSTAL_CODE_MAX,
    CancellationReason,
    RefundReason,
)
from agora_ordering.domain import Order, OrderStatus, RefundStatus

MAX_LINES = 100
MAX_QUANTITY = 99

Text = Annotated[str, Field(min_length=1, max_length=ADDRESS_LINE_MAX)]


class ShippingAddressIn(BaseModel):
    """Where the order goes; every field is required, surrounding spaces are dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=NAME_MAX, examples=["Ada Lovelace"])
    street: Text = Field(examples=["12 Analytical Row"])
    postal_code: str = Field(
        min_length=2, max_length=POSTAL_CODE_MAX, pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]*$"
    )
    city: Text = Field(examples=["Berlin"])
    country: str = Field(
        min_length=2, max_length=2, description="ISO 3166-1 alpha-2 code", examples=["DE"]
    )

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        code = value.upper()
        if pycountry.countries.get(alpha_2=code) is None:
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
        return code


class LineIn(BaseModel):
    """A product and how many units of it."""

    model_config = ConfigDict(extra="forbid")

    product_id: uuid.UUID
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class OrderCreate(BaseModel):
    """A new order: its lines (or ``from_basket``), where it goes, and how it is paid.

    Prices are never sent: catalog prices every line when the order is placed.
    """

    model_config = ConfigDict(extra="forbid")

    lines: list[LineIn] | None = Field(default=None, min_length=1, max_length=MAX_LINES)
    from_basket: bool = Field(default=False, description="Order what the caller's basket holds")
    ship_to: ShippingAddressIn
    payment_token: str = Field(
        min_length=1,
        max_length=PAYMENT_TOKEN_MAX,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="The payment provider's card token (POST /v1/tokens), never a card number",
    )

    @model_validator(mode="after")
    def _one_source_of_lines(self) -> Self:
        if self.from_basket == (self.lines is not None):
            raise ValueError("send either lines or from_basket: true, not both and not neither")
        if self.lines is not None:
            ids = [line.product_id for line in self.lines]
            if len(set(ids)) != len(ids):
                raise ValueError("each product may appear on one line only")
        return self


class LineRead(BaseModel):
    """One line as priced when the order was placed."""

    model_config = ConfigDict(from_attributes=True)  # read off the domain object

    product_id: uuid.UUID
    name: str
    quantity: int
    unit_price: Decimal
    subtotal: Decimal


class TimelineRead(BaseModel):
    """One transition: the state entered, when, and why (for a cancellation)."""

    model_config = ConfigDict(from_attributes=True)  # read off the domain object

    status: OrderStatus
    at: dt.datetime
    reason: CancellationReason | None


class RefundRead(BaseModel):
    """A charge ordering asked payment to give back."""

    model_config = ConfigDict(from_attributes=True)  # read off the domain object

    payment_id: uuid.UUID
    amount: Decimal
    reason: RefundReason
    status: RefundStatus


class AddressRead(BaseModel):
    """The shipping address."""

    name: str
    street: str
    postal_code: str
    city: str
    country: str


class OrderSummary(BaseModel):
    """An order in a list."""

    id: uuid.UUID
    buyer_id: uuid.UUID
    status: OrderStatus
    total: Decimal
    currency: str
    item_count: int
    placed_at: dt.datetime
    cancel_reason: CancellationReason | None

    @classmethod
    def of(cls, order: Order) -> Self:
        """The summary of ``order``."""
        return cls(
            id=order.id,
            buyer_id=order.buyer_id,
            status=order.status,
            total=order.total,
            currency=order.currency,
            item_count=sum(line.quantity for line in order.lines),
            placed_at=order.placed_at,
            cancel_reason=order.cancel_reason,
        )


class OrderRead(OrderSummary):
    """An order with its lines, address, timeline and refunds."""

    lines: list[LineRead]
    ship_to: AddressRead
    timeline: list[TimelineRead]
    refunds: list[RefundRead]

    @classmethod
    def of(cls, order: Order) -> Self:
        """The whole of ``order``."""
        summary = OrderSummary.of(order).model_dump()
        return cls(
            **summary,
            lines=[LineRead.model_validate(line) for line in order.lines],
            ship_to=AddressRead(**order.ship_to.model_dump()),
            timeline=[TimelineRead.model_validate(entry) for entry in order.timeline],
            refunds=[RefundRead.model_validate(refund) for refund in order.refunds],
        )
