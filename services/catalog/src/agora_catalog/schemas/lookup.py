"""Batch lookups other services make (over gRPC): products by id, and stock availability."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH = 100
"""Most ids or lines one lookup may carry."""
MAX_QUANTITY = 2**31 - 1
"""Largest quantity a line may ask for (the wire type is a 32-bit integer)."""


class ProductBatch(BaseModel):
    """Products to look up.

    Attributes:
        product_ids: The products' ids, at most ``MAX_BATCH``; duplicates are allowed.
    """

    model_config = ConfigDict(extra="forbid")

    product_ids: Annotated[list[uuid.UUID], Field(max_length=MAX_BATCH)]


class AvailabilityLine(BaseModel):
    """A quantity of one product.

    Attributes:
        product_id: The product.
        quantity: Units wanted, at least 1.
    """

    model_config = ConfigDict(extra="forbid")

    product_id: uuid.UUID
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]


class AvailabilityQuery(BaseModel):
    """The lines of a prospective order.

    Attributes:
        lines: At most ``MAX_BATCH`` lines; several may name one product.
    """

    model_config = ConfigDict(extra="forbid")

    lines: Annotated[list[AvailabilityLine], Field(max_length=MAX_BATCH)]


class LineStatus(StrEnum):
    """Why a line can or cannot be served."""

    OK = "ok"
    INSUFFICIENT_STOCK = "insufficient_stock"
    NOT_FOUND = "not_found"
    INACTIVE = "inactive"


class LineAvailability(BaseModel):
    """The answer to one line.

    Attributes:
        product_id: The product, as asked.
        quantity: The units asked for on this line.
        available: Units free to order now (0 for a missing or withdrawn product).
        status: Whether the line can be served, and if not, why.
    """

    product_id: uuid.UUID
    quantity: int
    available: int
    status: LineStatus

    @property
    def ok(self) -> bool:
        """Whether the line can be served."""
        return self.status is LineStatus.OK


class Availability(BaseModel):
    """The answer to an :class:`AvailabilityQuery`.

    Attributes:
        lines: One answer per line, in the query's order.
    """

    lines: list[LineAvailability]

    @property
    def ok(self) -> bool:
        """Whether every line can be served."""
        return all(line.ok for line in self.lines)
