"""The shopper's basket, over basket's REST API (a guest's basket is named by its signed id)."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from agora_storefront.services.backends import (
    BASKET_ID_HEADER,
    Backend,
    Caller,
    SignInRequired,
    body_of,
)

MAX_QUANTITY = 99
"""Most units of one product a basket holds (basket's own ceiling)."""


@dataclass(frozen=True)
class BasketView:
    """A basket as basket answered it, and the guest id it issued (for a new guest basket)."""

    basket: dict[str, Any]
    guest_basket: str | None

    @property
    def lines(self) -> int:
        """How many lines it has (the header's count)."""
        return len(self.basket.get("lines") or [])

    def quantity_of(self, product_id: str) -> int:
        """Units of the product the basket holds (0 without a line)."""
        for line in self.basket.get("lines") or []:
            if str(line["product_id"]) == product_id:
                return int(line["quantity"])
        return 0

    def line(self, product_id: str) -> dict[str, Any] | None:
        """The product's line, if the basket has one."""
        for line in self.basket.get("lines") or []:
            if str(line["product_id"]) == product_id:
                return dict(line)
        return None


class Baskets:
    """Read and change the visitor's basket; merge a guest's basket after sign-in."""

    def __init__(self, basket: Backend) -> None:
        self.basket = basket

    async def _call(self, method: str, path: str, caller: Caller, **options: Any) -> BasketView:
        url = f"/api/v1/basket{path}"
        response = await self.basket.send(method, url, caller, **options)
        refused = response.status_code == HTTPStatus.UNAUTHORIZED
        if refused and caller.guest_basket and not caller.access_token:
            # Basket no longer accepts the guest id (its secret changed, or the cookie was
            # altered): a new guest basket, rather than a login page for a guest.
            fresh = Caller(None, None, caller.client_address)
            response = await self.basket.send(method, url, fresh, **options)
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

    async def add(self, product_id: str, quantity: int, caller: Caller) -> BasketView:
        """Add ``quantity`` units to what the basket already holds of the product (at most
        :data:`MAX_QUANTITY` in all).

        Basket's API sets a line's quantity; adding is a read then a write, so two tabs adding
        at once may lose one addition (the basket page shows the result either way).

        Raises:
            Refused: Unknown or inactive product (404/422), too many units or lines (422).
        """
        current = await self.show(caller)
        held = current.quantity_of(product_id)
        caller = caller if current.guest_basket is None else caller.with_guest(current.guest_basket)
        view = await self.put(product_id, min(held + quantity, MAX_QUANTITY), caller)
        return BasketView(view.basket, view.guest_basket or current.guest_basket)

    async def clear(self, caller: Caller) -> BasketView:
        """Empty the basket."""
        return await self._call("DELETE", "", caller)

    async def remove(self, product_id: str, caller: Caller) -> BasketView:
        """Remove a line."""
        return await self._call("DELETE", f"/items/{product_id}", caller)

    async def merge(self, guest_basket: str, caller: Caller) -> BasketView:
        """Move a guest basket's lines into the signed-in ``caller``'s basket (once).

        A guest id basket refuses (401 although the token is good) is dropped: signing in must
        not fail over a basket that cannot be read any more.
        """
        headers = {BASKET_ID_HEADER: guest_basket}
        try:
            return await self._call("POST", "/merge", caller, headers=headers, idempotent=True)
        except SignInRequired:
            return await self.show(caller)  # a token basket refuses as well still signs out
