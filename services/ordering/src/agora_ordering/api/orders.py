"""The customer's orders: place one, list them, read one, cancel one."""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from agora_chassis.idempotency_api import IdempotentRoute
from agora_chassis.openapi import problem_responses
from agora_chassis.pagination import Page, Pagination
from agora_ordering.api.deps import BuyerId, Orders, idempotency_key
from agora_ordering.domain import OrderStatus
from agora_ordering.schemas.orders import OrderCreate, OrderRead, OrderSummary
from agora_ordering.schemas.query import OrderFilter

router = APIRouter(
    prefix="/api/v1/orders",
    tags=["orders"],
    responses=problem_responses(status.HTTP_401_UNAUTHORIZED, status.HTTP_503_SERVICE_UNAVAILABLE),
    route_class=IdempotentRoute,  # stores the answer of a placement under its Idempotency-Key
)


@router.post(
    "",
    response_model=OrderRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(idempotency_key)],
    responses=problem_responses(
        status.HTTP_404_NOT_FOUND,
        status.HTTP_409_CONFLICT,
        HTTPStatus.PRECONDITION_REQUIRED,
        HTTPStatus.UNPROCESSABLE_ENTITY,
    ),
)
async def place_order(
    command: OrderCreate, buyer: BuyerId, orders: Orders, response: Response
) -> OrderRead:
    """Place an order (PENDING); its status moves on as stock and payment answer.

    Requires ``Idempotency-Key``: the same key and body again returns the same order.
    """
    order = await orders.place(buyer, command)
    response.headers["Location"] = f"{router.prefix}/{order.id}"
    return OrderRead.of(order)


@router.get("", response_model=Page[OrderSummary])
async def my_orders(
    buyer: BuyerId,
    orders: Orders,
    page: Pagination,
    status_filter: Annotated[OrderStatus | None, Query(alias="status")] = None,
) -> Page[OrderSummary]:
    """The caller's orders, newest first, optionally only those in one status."""
    where = OrderFilter(buyer_id=buyer, status=status_filter)
    items, total = await orders.page(where, page.offset, page.per_page)
    return Page[OrderSummary].of([OrderSummary.of(o) for o in items], total, page)


@router.get(
    "/{order_id}",
    response_model=OrderRead,
    responses=problem_responses(status.HTTP_404_NOT_FOUND),
)
async def my_order(order_id: uuid.UUID, buyer: BuyerId, orders: Orders) -> OrderRead:
    """One of the caller's orders with its lines, totals, address and status timeline."""
    return OrderRead.of(await orders.get(buyer, order_id))


@router.post(
    "/{order_id}/cancel",
    response_model=OrderRead,
    responses=problem_responses(status.HTTP_404_NOT_FOUND, status.HTTP_409_CONFLICT),
)
async def cancel_order(order_id: uuid.UUID, buyer: BuyerId, orders: Orders) -> OrderRead:
    """Cancel one of the caller's orders; allowed until it is PAID (409 afterwards)."""
    return OrderRead.of(await orders.cancel(buyer, order_id))
