"""What an order list is filtered by (the customer's own list and the admin's search)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from agora_ordering.domain import OrderStatus


@dataclass(frozen=True)
class OrderFilter:
    """Which orders a list shows; ``None`` fields do not filter.

    Attributes:
        buyer_id: Orders of this customer.
        status: Orders in this state.
        placed_from: Placed at or after.
        placed_to: Placed before.
    """

    buyer_id: uuid.UUID | None = None
    status: OrderStatus | None = None
    placed_from: dt.datetime | None = None
    placed_to: dt.datetime | None = None
