"""The operator's product work through catalog's admin API: find, re-price, restock.

A price change carries the ETag of the product the operator saw, as ``If-Match``; catalog refuses
it (412) when the product changed meanwhile (its price, name... or its stock), so a change is never
silently overwritten: the page shows the current product instead, and the operator decides again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from agora_storefront.services.backends import Backends, Caller, Refused, body_of

PRODUCTS_PER_PAGE = 20
# 412: the ETag no longer matches; 409: catalog's own version check saw the same race.
STALE_STATUSES = frozenset({HTTPStatus.PRECONDITION_FAILED, HTTPStatus.CONFLICT})


@dataclass(frozen=True)
class Repriced:
    """The outcome of a price change.

    Attributes:
        product: The product as it is now (changed, or as someone else left it).
        stale: The change was refused: the product had changed since the operator read it.
    """

    product: dict[str, Any]
    stale: bool


def product_params(text: str, page: int) -> dict[str, str | int]:
    """Catalog's query for the operator's product search (by name, best match first)."""
    params: dict[str, str | int] = {"page": page, "per_page": PRODUCTS_PER_PAGE}
    if text.strip():
        params["q"] = text.strip()
    else:
        params["sort"] = "name"
    return params


class ProductDesk:
    """Catalog reads and admin writes for the operator pages."""

    def __init__(self, backends: Backends) -> None:
        self.catalog = backends.catalog

    async def search(self, text: str, page: int, caller: Caller) -> dict[str, Any]:
        """One page of products matching ``text`` (every product, by name, when empty)."""
        found: dict[str, Any] = await self.catalog.json(
            "GET", "/api/v1/products", caller, params=product_params(text, page)
        )
        return found

    async def product(self, product_id: uuid.UUID, caller: Caller) -> dict[str, Any]:
        """One product, with the ``etag`` catalog answered it with (the price form sends it back).

        Raises:
            Refused: 404: no such (active) product.
        """
        response = await self.catalog.send("GET", f"/api/v1/products/{product_id}", caller)
        product: dict[str, Any] = body_of(response)
        return {**product, "etag": response.headers.get("ETag", "")}

    async def stock(self, product_id: uuid.UUID, caller: Caller) -> dict[str, Any]:
        """On hand, reserved and available units of a product."""
        stock: dict[str, Any] = await self.catalog.json(
            "GET", f"/api/v1/products/{product_id}/stock", caller
        )
        return stock

    async def reprice(
        self, product_id: uuid.UUID, price: Decimal, etag: str, caller: Caller
    ) -> Repriced:
        """Set the price, if the product is still as the operator saw it (``If-Match: etag``).

        Raises:
            Refused: Any refusal but a stale ETag (a price catalog does not accept: 422).
        """
        response = await self.catalog.send(
            "PATCH",
            f"/api/v1/products/{product_id}",
            caller,
            json={"price": str(price)},
            headers={"If-Match": etag},
        )
        try:
            changed: dict[str, Any] = body_of(response)
        except Refused as refused:
            if refused.status not in STALE_STATUSES:
                raise
            return Repriced(await self.product(product_id, caller), stale=True)
        return Repriced({**changed, "etag": response.headers.get("ETag", "")}, stale=False)

    async def adjust_stock(
        self, product_id: uuid.UUID, delta: int, reason: str, caller: Caller
    ) -> dict[str, Any]:
        """Add (delivery) or remove (shrinkage) units on the shelf; the stock after it.

        Raises:
            Refused: 409: fewer units would be left than are reserved.
        """
        stock: dict[str, Any] = await self.catalog.json(
            "POST",
            f"/api/v1/products/{product_id}/stock/adjustments",
            caller,
            json={"delta": delta, "reason": reason},
        )
        return stock
