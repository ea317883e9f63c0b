"""Operator pages (admin role): the services' health at a glance, and every customer's orders."""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from agora_storefront.api.deps import Operator, storefront
from agora_storefront.api.pages import render
from agora_storefront.services.backends import Refused
from agora_storefront.services.operations import (
    EMPTY_PAGE,
    ORDER_STATUSES,
    OrderDesk,
    OrderSearch,
    health,
)

router = APIRouter(prefix="/admin", include_in_schema=False)

DAY = r"^(\d{4}-\d{2}-\d{2})?$"
"""A day as a date input sends it, or nothing (an empty field of the search form)."""
Day = Annotated[str, Query(max_length=10, pattern=DAY)]
STATUS = "^(" + "|".join(ORDER_STATUSES) + ")?$"


@router.get("")
async def dashboard(request: Request, _visitor: Operator) -> Response:
    """Every called service's readiness (with its checks) and the storefront's breaker to it."""
    services = await health(storefront(request).backends)
    context = {"title": "Operations — Agora", "section": "health", "services": services}
    return await render(request, "admin/dashboard.html", context)


@router.get("/orders")
async def orders(
    request: Request,
    visitor: Operator,
    status: Annotated[str, Query(pattern=STATUS, max_length=20)] = "",
    customer: Annotated[str, Query(max_length=320)] = "",
    placed_from: Day = "",
    placed_to: Day = "",
    page: Annotated[int, Query(ge=1, le=500)] = 1,
) -> Response:
    """Every order, newest first, by status, customer (id or e-mail) and the days placed."""
    search = OrderSearch(status or None, customer.strip() or None, placed_from, placed_to, page)
    desk = OrderDesk(storefront(request).backends)
    try:
        found, message = await desk.search(search, visitor.caller)
    except Refused as refused:
        if refused.status != HTTPStatus.UNPROCESSABLE_ENTITY:
            raise
        found, message = EMPTY_PAGE, refused.detail
    context = {
        "title": "Orders — Operations — Agora",
        "section": "orders",
        "search": search,
        "statuses": ORDER_STATUSES,
        "page": found,
        "message": message,
    }
    return await render(request, "admin/orders.html", context)


@router.get("/orders/{order_id}")
async def order(request: Request, order_id: uuid.UUID, visitor: Operator) -> Response:
    """One order: lines, totals, customer, address, status and its timeline."""
    found = await OrderDesk(storefront(request).backends).order(order_id, visitor.caller)
    context = {"title": "Order — Operations — Agora", "section": "orders", "order": found}
    return await render(request, "admin/order.html", context)
