"""The operator's product work through catalog's admin API: find, re-price, restock.

A price change carries the ``version`` of the product the operator saw; catalog refuses it (409)
when someone changed the product meanwhile, so a change is never silently overwritten: the page
shows the current product instead, and the operator decides again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from agora_storefront.services.backends import Backends, Caller, Refused

PRODUCTS_PER_PAGE = 20


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
        """One product, with its current ``version``.

        Raises:
            Refused: 404: no such (active) product.
        """
        product: dict[str, Any] = await self.catalog.json(
            "GET", f"/api/v1/products/{product_id}", caller
        )
        return product

    async def stock(self, product_id: uuid.UUID, caller: Caller) -> dict[str, Any]:
        """On hand, reserved and available units of a product."""
        stock: dict[str, Any] = await self.catalog.json(
            "GET", f"/api/v1/products/{product_id}/stock", caller
        )
        return stock

    async def reprice(
        self, product_id: uuid.UUID, price: Decimal, version: int, caller: Caller
    ) -> Repriced:
        """Set the price, if the product is still at ``version``.

        Raises:
            Refused: Any refusal but a stale version (a price catalog does not accept: 422).
        """
        body = {"price": str(price), "version": version}
        try:
            changed = await self.catalog.json(
                "PATCH", f"/api/v1/products/{product_id}", caller, json=body
            )
        except Refused as refused:
            if refused.status != HTTPStatus.CONFLICT:
                raise
            return Repriced(await self.product(product_id, caller), stale=True)
        return Repriced(changed, stale=False)

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
