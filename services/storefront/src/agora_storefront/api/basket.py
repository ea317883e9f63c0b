"""The basket: add from the product page, the basket page, change or remove a line.

Every change answers HTMX with the part of the page it changed (the add result, or the basket
section) plus the header's line count out of band; without JavaScript, with a redirect to the
basket page. Guests have a basket too: basket names it by a signed id the storefront keeps in
its own cookie (``Visitor.basket_holds``).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from agora_storefront.api.deps import Csrf, CurrentVisitor, Visitor, storefront
from agora_storefront.api.pages import is_htmx, redirect, render
from agora_storefront.services.backends import Refused
from agora_storefront.services.baskets import MAX_QUANTITY, Baskets, BasketView

router = APIRouter(include_in_schema=False)

Quantity = Annotated[str, Form(max_length=10)]


async def baskets(request: Request) -> Baskets:
    """The basket calls of this app."""
    return Baskets(storefront(request).backends.basket)


BasketCalls = Annotated[Baskets, Depends(baskets)]


def parse_quantity(raw: str, minimum: int) -> int | None:
    """A quantity typed into a form: a whole number from ``minimum`` to 99, else ``None``."""
    text = raw.strip()
    if not text.isdecimal():  # not isdigit: "²" is a digit int() refuses
        return None
    value = int(text)
    return value if minimum <= value <= MAX_QUANTITY else None


def quantity_message(minimum: int) -> str:
    """What to say about a quantity :func:`parse_quantity` refused."""
    return f"Enter a whole number from {minimum} to {MAX_QUANTITY}."


def _kept(visitor: Visitor, view: BasketView) -> BasketView:
    """Remember the basket's count (and a newly issued guest id) in the visitor's cookies."""
    visitor.basket_holds(view.lines, view.guest_basket)
    return view


async def _basket_answer(
    request: Request,
    visitor: Visitor,
    calls: Baskets,
    message: str | None = None,
    changed: BasketView | None = None,
) -> Response:
    """After a change: the basket section for HTMX, else the basket page (or a redirect to it).

    A write answers the whole basket (``changed``); only a refused one reads it again.
    """
    view = _kept(visitor, changed or await calls.show(visitor.caller))
    context: dict[str, Any] = {"basket": view.basket, "message": message}
    if is_htmx(request):
        return await render(request, "basket/_changed.html", context)
    if message is None:
        return redirect(request, "/basket")
    return await render(request, "basket/page.html", {"title": "Basket — Agora", **context}, 422)


@router.get("/basket")
async def basket_page(request: Request, visitor: CurrentVisitor, calls: BasketCalls) -> Response:
    """The basket: lines with price, stock and change flags, and the total."""
    view = _kept(visitor, await calls.show(visitor.caller))
    context = {"title": "Basket — Agora", "basket": view.basket, "message": None}
    return await render(request, "basket/page.html", context)


@router.post("/basket/items/{product_id}", dependencies=[Csrf])
async def add_item(
    request: Request,
    product_id: uuid.UUID,
    visitor: CurrentVisitor,
    calls: BasketCalls,
    quantity: Quantity = "1",
) -> Response:
    """Add units of a product (to those already in the basket, at most 99 in all)."""
    wanted = parse_quantity(quantity, 1)
    message = quantity_message(1) if wanted is None else None
    view = None
    if wanted is not None:
        try:
            view = _kept(visitor, await calls.add(str(product_id), wanted, visitor.caller))
        except Refused as refused:
            message = f"Not added: {refused.detail}"
    if not is_htmx(request):
        if view is None:
            return await _basket_answer(request, visitor, calls, message)
        return redirect(request, "/basket")
    line = view.line(str(product_id)) if view is not None else None
    context = {"line": line, "added": wanted, "message": message, "max_quantity": MAX_QUANTITY}
    return await render(request, "basket/_added.html", context)


@router.post("/basket/items/{product_id}/quantity", dependencies=[Csrf])
async def change_quantity(
    request: Request,
    product_id: uuid.UUID,
    visitor: CurrentVisitor,
    calls: BasketCalls,
    quantity: Quantity = "",
) -> Response:
    """Set a line's quantity (0 removes it)."""
    wanted = parse_quantity(quantity, 0)
    if wanted is None:
        return await _basket_answer(request, visitor, calls, quantity_message(0))
    try:
        changed = await calls.put(str(product_id), wanted, visitor.caller)
    except Refused as refused:
        return await _basket_answer(request, visitor, calls, refused.detail)
    return await _basket_answer(request, visitor, calls, changed=changed)


@router.post("/basket/items/{product_id}/remove", dependencies=[Csrf])
async def remove_item(
    request: Request, product_id: uuid.UUID, visitor: CurrentVisitor, calls: BasketCalls
) -> Response:
    """Remove a line."""
    changed = await calls.remove(str(product_id), visitor.caller)
    return await _basket_answer(request, visitor, calls, changed=changed)
