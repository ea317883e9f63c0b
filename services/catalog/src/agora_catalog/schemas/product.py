"""Product DTOs: what the API accepts (Create, Update) and returns (Read, AdminRead)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
IMAGE_URL_PATTERN = r"^(https?://|/)[^\s\x00-\x1f]{0,498}$"
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
MAX_PRICE = Decimal("9999999999.99")
MAX_ATTRIBUTES = 50
MAX_DESCRIPTION = 5000
MAX_SAFE_INTEGER = 2**53 - 1
"""Largest attribute integer every JSON client reads exactly (IEEE 754 double precision)."""
MAX_VERSION = 2**31 - 1
"""Largest version a product can have (the column is a 32-bit integer)."""

Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE)
]
Brand = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=PRINTABLE)
]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION, pattern=PRINTABLE)]
Price = Annotated[Decimal, Field(ge=0, le=MAX_PRICE, max_digits=12, decimal_places=2)]
Currency = Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN)]
ImageUrl = Annotated[str, StringConstraints(pattern=IMAGE_URL_PATTERN)]
AttributeValue = (
    Annotated[str, StringConstraints(max_length=200, pattern=PRINTABLE)]
    | Annotated[int, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)]
    | bool
)
Attributes = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=PRINTABLE)],
        AttributeValue,
    ],
    Field(max_length=MAX_ATTRIBUTES),
]
Quantity = Annotated[int, Field(ge=0, le=1_000_000)]


def refuse_null[M: BaseModel](model: M, nullable: frozenset[str]) -> M:
    """Refuse an explicit ``null`` for a field outside ``nullable``.

    A partial update's fields are optional, but leaving one out (keep it) is not the same as
    sending ``null`` (erase it); erasing a required column must be a 422, not a database error.

    Args:
        model: The validated update.
        nullable: Fields that may be erased.

    Returns:
        ``model``, unchanged.

    Raises:
        ValueError: A field outside ``nullable`` was sent as ``null``.
    """
    erased = sorted(
        name for name in model.model_fields_set - nullable if getattr(model, name) is None
    )
    if erased:
        raise ValueError(f"{', '.join(erased)} cannot be null; leave a field out to keep it")
    return model


class ProductCreate(BaseModel):
    """A new product (admin).

    Attributes:
        sku: Unique stock-keeping unit (letters, digits, ``.``, ``_``, ``-``).
        name: Display name.
        description: Longer text (searched, weighted below name and brand).
        brand: Maker.
        price: Price with two decimals.
        currency: ISO 4217 code.
        image_url: Absolute ``http(s)`` URL or a path on this site.
        attributes: Free-form facts (colour, size...), values text, integer or boolean.
        active: Listed and orderable.
        category_id: The product's category.
        on_hand: Units on the shelf to start with.
    """

    model_config = ConfigDict(extra="forbid")

    sku: Sku
    name: Name
    description: Description = ""
    brand: Brand
    price: Price
    currency: Currency = "EUR"
    image_url: ImageUrl | None = None
    attributes: Attributes = Field(default_factory=dict)
    active: bool = True
    category_id: uuid.UUID
    on_hand: Quantity = 0


class ProductUpdate(BaseModel):
    """Changes to a product (admin); only the fields given change.

    Attributes:
        version: The version the change is based on (instead of ``If-Match``); a stale one is
            refused with 409.
    """

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    brand: Brand | None = None
    price: Price | None = None
    currency: Currency | None = None
    image_url: ImageUrl | None = None
    attributes: Attributes | None = None
    active: bool | None = None
    category_id: uuid.UUID | None = None
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION)

    @model_validator(mode="after")
    def _no_null_for_required(self) -> ProductUpdate:
        return refuse_null(self, frozenset({"image_url", "version"}))

    def changes(self) -> dict[str, Any]:
        """The fields to set (those given, ``version`` excluded)."""
        return self.model_dump(exclude_unset=True, exclude={"version"})


class ProductRead(BaseModel):
    """A product as shoppers see it.

    Attributes:
        available: Units free to order (on hand minus reserved).
        version: Changes with every update; send it back (or the ETag) to update.
    """

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sku: str
    name: str
    description: str
    brand: str
    price: Decimal
    currency: str
    image_url: str | None
    attributes: dict[str, Any]
    active: bool
    category_id: uuid.UUID
    available: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class StockRead(BaseModel):
    """A product's stock (admin).

    Attributes:
        product_id: The product.
        on_hand: Units on the shelf.
        reserved: Units held for unpaid orders.
        available: Units free to order.
    """

    model_config = ConfigDict(from_attributes=True)

    product_id: uuid.UUID
    on_hand: int
    reserved: int
    available: int


class StockAdjustment(BaseModel):
    """Add (delivery) or remove (shrinkage) units on the shelf (admin).

    Attributes:
        delta: Units to add (positive) or remove (negative); never below what is reserved.
        reason: Why, for the log.
    """

    model_config = ConfigDict(extra="forbid")

    delta: int = Field(ge=-1_000_000, le=1_000_000)
    reason: Annotated[str, StringConstraints(max_length=200, pattern=PRINTABLE)] = ""
