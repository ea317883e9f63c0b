"""The shopper's orders, over ordering's REST API: place from the basket, list, follow, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agora_storefront.services.backends import Backend, Caller

IDEMPOTENCY_HEADER = "Idempotency-Key"
ORDERS_PER_PAGE = 10
FINAL_STATUSES = frozenset({"paid", "cancelled"})
CANCELLABLE = frozenset({"pending", "stock_reserved", "awaiting_payment"})
STATUS_LABELS = {
    "pending": "Received",
    "stock_reserved": "Stock reserved",
    "awaiting_payment": "Awaiting payment",
    "paid": "Paid",
    "cancelled": "Cancelled",
}
REASON_LABELS = {
    "out_of_stock": "Some items were out of stock.",
    "payment_declined": "The card payment was declined.",
    "timed_out": "The payment did not complete in time.",
    "cancelled_by_customer": "You cancelled the order.",
}


def is_final(status: str) -> bool:
    """Whether an order's status will not change any more (its page stops polling)."""
    return status in FINAL_STATUSES


def can_cancel(status: str) -> bool:
    """Whether the customer may still cancel (until it is paid)."""
    return status in CANCELLABLE


def reason_text(reason: str | None) -> str:
    """Why an order was cancelled, for the shopper (empty when it was not)."""
    if not reason:
        return ""
    return REASON_LABELS.get(reason, reason.replace("_", " ").capitalize() + ".")


@dataclass(frozen=True)
class ShipTo:
    """Where an order goes, as the checkout form has it."""

    name: str
    street: str
    postal_code: str
    city: str
    country: str

    def body(self) -> dict[str, str]:
        """Ordering's ``ship_to`` object."""
        return {
            "name": self.name,
            "street": self.street,
            "postal_code": self.postal_code,
            "city": self.city,
            "country": self.country.upper(),
        }


class Orders:
    """Ordering calls for the checkout and order pages."""

    def __init__(self, ordering: Backend) -> None:
        self.ordering = ordering

    async def place(
        self, ship_to: ShipTo, payment_token: str, checkout_key: str, caller: Caller
    ) -> dict[str, Any]:
        """Order what the signed-in caller's basket holds (PENDING; the saga moves it on).

        ``checkout_key`` is the checkout page's own key: a form sent twice (a double click, a
        reload after a lost answer) places one order, and the second answer is the first's.

        Raises:
            Refused: An empty basket or invalid field (422, with field errors), a product gone
                (404), the same key still in flight (409).
        """
        body = {"from_basket": True, "ship_to": ship_to.body(), "payment_token": payment_token}
        headers = {IDEMPOTENCY_HEADER: checkout_key}
        order: dict[str, Any] = await self.ordering.json(
            "POST", "/api/v1/orders", caller, json=body, headers=headers, idempotent=True
        )
        return order

    async def page(self, page: int, status: str | None, caller: Caller) -> dict[str, Any]:
        """One page of the caller's orders, newest first (``data``, ``total``, ``total_pages``),
        only those in ``status`` when given."""
        params: dict[str, Any] = {"page": page, "per_page": ORDERS_PER_PAGE}
        if status:
            params["status"] = status
        found: dict[str, Any] = await self.ordering.json(
            "GET", "/api/v1/orders", caller, params=params
        )
        return found

    async def get(self, order_id: str, caller: Caller) -> dict[str, Any]:
        """One of the caller's orders with lines, address, timeline and refunds.

        Raises:
            Refused: 404: no such order, or another customer's.
        """
        order: dict[str, Any] = await self.ordering.json(
            "GET", f"/api/v1/orders/{order_id}", caller
        )
        return order

    async def cancel(self, order_id: str, caller: Caller) -> dict[str, Any]:
        """Cancel one of the caller's orders.

        Raises:
            Refused: 409: it is paid (or cancelled) already; 404: no such order.
        """
        order: dict[str, Any] = await self.ordering.json(
            "POST", f"/api/v1/orders/{order_id}/cancel", caller, idempotent=True
        )
        return order
