"""The operators' view of every order: search by status, customer and date range."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from agora_chassis.auth import require_roles
from agora_chassis.errors import ValidationFailed
from agora_chassis.openapi import problem_responses
from agora_chassis.pagination import Page, Pagination
from agora_ordering.api.deps import Orders
from agora_ordering.domain import OrderStatus
from agora_ordering.schemas.orders import OrderRead, OrderSummary
from agora_ordering.schemas.query import OrderFilter
from agora_ordering.services.orders import placed_between

ADMIN_ROLE = "admin"

router = APIRouter(
    prefix="/api/v1/admin/orders",
    tags=["admin"],
    dependencies=[Depends(require_roles(ADMIN_ROLE))],
    responses=problem_responses(
        status.HTTP_401_UNAUTHORIZED,
        status.HTTP_403_FORBIDDEN,
        status.HTTP_503_SERVICE_UNAVAILABLE,
    ),
)


@router.get("", response_model=Page[OrderSummary])
async def search_orders(
    orders: Orders,
    page: Pagination,
    status_filter: Annotated[OrderStatus | None, Query(alias="status")] = None,
    customer: Annotated[uuid.UUID | None, Query(description="The buyer's user id")] = None,
    placed_from: Annotated[dt.date | None, Query(description="First day, UTC")] = None,
    placed_to: Annotated[dt.date | None, Query(description="Last day, UTC, included")] = None,
) -> Page[OrderSummary]:
    """Every order, newest first, filtered by status, customer and the days they were placed."""
    if placed_from and placed_to and placed_to < placed_from:
        raise ValidationFailed("placed_to is before placed_from.")
    low, high = placed_between(placed_from, placed_to)
    where = OrderFilter(buyer_id=customer, status=status_filter, placed_from=low, placed_to=high)
    items, total = await orders.page(where, page.offset, page.per_page)
    return Page[OrderSummary].of([OrderSummary.of(o) for o in items], total, page)


@router.get(
    "/{order_id}", response_model=OrderRead, responses=problem_responses(status.HTTP_404_NOT_FOUND)
)
async def any_order(order_id: uuid.UUID, orders: Orders) -> OrderRead:
    """Any customer's order, whole."""
    return OrderRead.of(await orders.get(None, order_id))
