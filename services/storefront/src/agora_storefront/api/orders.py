"""The shopper's orders: the list, one order followed live until it is paid or cancelled, cancel.

An order moves on after it is placed (stock reserved, card charged) without the shopper doing
anything, so its page asks for its status panel again every second (HTMX polling) until the
order is final, when the panel comes back without the polling.
"""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from agora_storefront.api.checkout import OrderCalls
from agora_storefront.api.deps import Csrf, SignedIn, Visitor
from agora_storefront.api.pages import is_htmx, problem_page, redirect, render
from agora_storefront.services.backends import Refused
from agora_storefront.services.orders import (
    STATUS_LABELS,
    Orders,
    can_cancel,
    is_final,
    reason_text,
)

router = APIRouter(include_in_schema=False)

LABELS = {"statuses": STATUS_LABELS, "reason_text": reason_text}


def _order_context(order: dict[str, Any], **extra: Any) -> dict[str, Any]:
    status = order["status"]
    return {
        "order": order,
        "final": is_final(status),
        "cancellable": can_cancel(status),
        **LABELS,
        **extra,
    }


async def _order(
    request: Request, order_id: uuid.UUID, visitor: Visitor, calls: Orders
) -> dict[str, Any] | Response:
    """The order, or the not-found page (no such order, or another customer's)."""
    try:
        return await calls.get(str(order_id), visitor.caller)
    except Refused as refused:
        if refused.status != HTTPStatus.NOT_FOUND:
            raise
    detail = "There is no such order in your account. Your orders are listed under My orders."
    return await problem_page(request, HTTPStatus.NOT_FOUND, "Order not found", detail)


@router.get("/account/orders")
async def order_list(
    request: Request,
    visitor: SignedIn,
    calls: OrderCalls,
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
    status: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The shopper's orders, newest first, optionally in one status only."""
    chosen = status if status in STATUS_LABELS else ""
    found = await calls.page(page, chosen or None, visitor.caller)
    context = {"title": "My orders — Agora", "page": found, "status": chosen, **LABELS}
    return await render(request, "orders/list.html", context)


@router.get("/account/orders/{order_id}")
async def order_page(
    request: Request,
    order_id: uuid.UUID,
    visitor: SignedIn,
    calls: OrderCalls,
    placed: bool = False,
) -> Response:
    """One order: its status (followed live), timeline, lines, totals and address."""
    order = await _order(request, order_id, visitor, calls)
    if isinstance(order, Response):
        return order
    title = f"Order {str(order_id)[:8]} — Agora"
    return await render(
        request, "orders/page.html", _order_context(order, title=title, placed=placed)
    )


@router.get("/account/orders/{order_id}/status")
async def order_status(
    request: Request, order_id: uuid.UUID, visitor: SignedIn, calls: OrderCalls
) -> Response:
    """The order's status panel (an HTMX fragment, polled while the order is under way)."""
    order = await _order(request, order_id, visitor, calls)
    if isinstance(order, Response):
        return order
    return await render(request, "orders/_live.html", _order_context(order))


@router.post("/account/orders/{order_id}/cancel", dependencies=[Csrf])
async def cancel(
    request: Request, order_id: uuid.UUID, visitor: SignedIn, calls: OrderCalls
) -> Response:
    """Cancel the order while it is not paid; once paid, say so and show it as it is."""
    message = None
    try:
        order = await calls.cancel(str(order_id), visitor.caller)
    except Refused as refused:
        if refused.status != HTTPStatus.CONFLICT:
            raise
        order = await calls.get(str(order_id), visitor.caller)
        message = refused.detail
    if not is_htmx(request) and message is None:
        return redirect(request, f"/account/orders/{order_id}")
    context = _order_context(order, title="Order — Agora", message=message)
    if is_htmx(request):
        return await render(request, "orders/_live.html", context)
    return await render(request, "orders/page.html", context, status=HTTPStatus.CONFLICT)
