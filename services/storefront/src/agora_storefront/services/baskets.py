"""The shopper's basket, over basket's REST API (a guest's basket is named by its signed id)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agora_storefront.services.backends import BASKET_ID_HEADER, Backend, Caller, body_of


@dataclass(frozen=True)
class BasketView:
    """A basket as basket answered it, and the guest id it issued (for a new guest basket)."""

    basket: dict[str, Any]
    guest_basket: str | None

    @property
    def lines(self) -> int:
        """How many lines it has (the header's count)."""
        return len(self.basket.get("lines") or [])


class Baskets:
    """Read and change the visitor's basket; merge a guest's basket after sign-in."""

    def __init__(self, basket: Backend) -> None:
        self.basket = basket

    async def _call(self, method: str, path: str, caller: Caller, **options: Any) -> BasketView:
        response = await self.basket.send(method, f"/api/v1/basket{path}", caller, **options)
        return BasketView(body_of(response), response.headers.get(BASKET_ID_HEADER))

    async def show(self, caller: Caller) -> BasketView:
        """The basket with current prices, flags for changed prices and short stock."""
        return await self._call("GET", "", caller)

    async def put(self, product_id: str, quantity: int, caller: Caller) -> BasketView:
        """Set a line's quantity (0 removes it).

        Raises:
            Refused: Unknown or inactive product (404/422), too many units or lines (422).
        """
        return await self._call("PUT", f"/items/{product_id}", caller, json={"quantity": quantity})

    async def remove(self, product_id: str, caller: Caller) -> BasketView:
        """Remove a line."""
        return await self._call("DELETE", f"/items/{product_id}", caller)

    async def merge(self, guest_basket: str, caller: Caller) -> BasketView:
        """Move a guest basket's lines into the signed-in ``caller``'s basket (once)."""
        headers = {BASKET_ID_HEADER: guest_basket}
        return await self._call("POST", "/merge", caller, headers=headers, idempotent=True)
