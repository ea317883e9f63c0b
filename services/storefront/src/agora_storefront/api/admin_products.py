"""Operator pages (admin role): find products, change a price safely, adjust the stock."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from agora_storefront.api.deps import Csrf, Operator, Visitor, storefront
from agora_storefront.api.pages import redirect, render
from agora_storefront.services.backends import Refused
from agora_storefront.services.product_desk import ProductDesk

router = APIRouter(prefix="/admin/products", include_in_schema=False)

DONE = {
    "price": "The price is changed.",
    "stock": "The stock is adjusted.",
}
STALE = (
    "This product was changed by someone else since you opened it; nothing was saved. "
    "Here is the current value: check it and change it again if needed."
)
MAX_DELTA = 1_000_000


def parse_price(text: str) -> Decimal | None:
    """A price as typed (``12.5``, ``12,50``...), ``None`` when it is not a number."""
    try:
        price = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        return None
    return price if price.is_finite() else None


def desk(request: Request) -> ProductDesk:
    """The catalog's admin calls."""
    return ProductDesk(storefront(request).backends)


@router.get("")
async def products(
    request: Request,
    visitor: Operator,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=500)] = 1,
) -> Response:
    """Products by name, or the best matches of a search."""
    message = ""
    try:
        found = await desk(request).search(q, page, visitor.caller)
    except Refused as refused:
        if refused.status != HTTPStatus.UNPROCESSABLE_ENTITY:
            raise
        found = {"data": [], "total": 0, "page": 1, "total_pages": 0}
        message = refused.detail
    context = {
        "title": "Products — Operations — Agora",
        "section": "products",
        "q": q,
        "page": found,
        "message": message,
    }
    return await render(request, "admin/products.html", context)


async def _edit_page(
    request: Request,
    visitor: Visitor,
    product: dict[str, Any],
    status: int = HTTPStatus.OK,
    **notes: str,
) -> Response:
    """The edit page of ``product``, its stock, and what happened (``done``, ``stale``, errors)."""
    stock = await desk(request).stock(uuid.UUID(product["id"]), visitor.caller)
    context = {
        "title": f"{product['name']} — Operations — Agora",
        "section": "products",
        "product": product,
        "stock": stock,
        "notes": notes,
    }
    return await render(request, "admin/product.html", context, status=status)


@router.get("/{product_id}")
async def product(
    request: Request,
    product_id: uuid.UUID,
    visitor: Operator,
    done: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """A product's price form (with the ETag of what it shows) and its stock form."""
    found = await desk(request).product(product_id, visitor.caller)
    return await _edit_page(request, visitor, found, done=DONE.get(done, ""))


@router.post("/{product_id}/price", dependencies=[Csrf])
async def change_price(
    request: Request,
    product_id: uuid.UUID,
    visitor: Operator,
    price: Annotated[str, Form(max_length=20)] = "",
    etag: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Change the price if nobody changed the product since the form was shown."""
    amount = parse_price(price)
    if amount is None:
        found = await desk(request).product(product_id, visitor.caller)
        return await _edit_page(
            request, visitor, found, HTTPStatus.BAD_REQUEST, price="Enter a price, e.g. 19.99."
        )
    try:
        outcome = await desk(request).reprice(product_id, amount, etag, visitor.caller)
    except Refused as refused:
        if refused.status != HTTPStatus.UNPROCESSABLE_ENTITY:
            raise
        found = await desk(request).product(product_id, visitor.caller)
        message = refused.field_errors().get("price") or refused.detail
        return await _edit_page(request, visitor, found, HTTPStatus.BAD_REQUEST, price=message)
    if outcome.stale:
        return await _edit_page(request, visitor, outcome.product, HTTPStatus.CONFLICT, stale=STALE)
    return redirect(request, f"/admin/products/{product_id}?done=price")


@router.post("/{product_id}/stock", dependencies=[Csrf])
async def adjust_stock(
    request: Request,
    product_id: uuid.UUID,
    visitor: Operator,
    delta: Annotated[int, Form(ge=-MAX_DELTA, le=MAX_DELTA)] = 0,
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Add (delivery) or remove (shrinkage) units; never below what is reserved."""
    if delta == 0:
        found = await desk(request).product(product_id, visitor.caller)
        note = "Enter how many units to add (or, negative, to remove)."
        return await _edit_page(request, visitor, found, HTTPStatus.BAD_REQUEST, delta=note)
    try:
        await desk(request).adjust_stock(product_id, delta, reason.strip(), visitor.caller)
    except Refused as refused:
        if refused.status not in (HTTPStatus.CONFLICT, HTTPStatus.UNPROCESSABLE_ENTITY):
            raise
        found = await desk(request).product(product_id, visitor.caller)
        message = refused.detail
        return await _edit_page(request, visitor, found, HTTPStatus.BAD_REQUEST, delta=message)
    return redirect(request, f"/admin/products/{product_id}?done=stock")
