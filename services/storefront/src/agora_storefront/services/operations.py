"""What the operator pages read from the services: their health, and every customer's orders.

Readiness is asked of each service on its own base URL (``/health/ready``): the same answer a load
balancer gets, with the checks it ran. Next to it, the storefront's own view of the service: the
state of the breaker its calls go through.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from agora_storefront.services.backends import Backend, Backends, Caller

HEALTH_DEADLINE_SECONDS = 2.0
"""A service that takes longer to say whether it is ready is shown as down: the page must load."""
ORDERS_PER_PAGE = 20
ORDER_STATUSES = ("pending", "stock_reserved", "awaiting_payment", "paid", "cancelled")
ORDER_FILTERS = ("status", "customer", "placed_from", "placed_to")
READY_STATES = {"ok": "ok", "degraded": "degraded"}


def every_backend(backends: Backends) -> list[Backend]:
    """The called services, in the order the pages list them."""
    return [
        backends.identity,
        backends.catalog,
        backends.basket,
        backends.ordering,
        backends.payment,
        backends.notification,
    ]


@dataclass(frozen=True)
class ServiceHealth:
    """One service at a glance.

    Attributes:
        name: The service.
        status: ``ok``, ``degraded`` (serving with less) or ``down`` (not ready, not answering).
        breaker: The storefront's breaker towards it: ``closed``, ``half-open`` or ``open``.
        checks: What the service checked (name → ``status``, ``critical``, ``error``).
        version: The version it reports, when it answered.
        problem: Why it is down when it gave no checks.
    """

    name: str
    status: str
    breaker: str
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: str | None = None
    problem: str | None = None


def readiness(name: str, breaker: str, body: Any) -> ServiceHealth:
    """A service's health from its ``/health/ready`` body (anything but ok/degraded is down)."""
    if not isinstance(body, dict):
        return ServiceHealth(name, "down", breaker, problem="answered without a readiness report")
    checks = body.get("checks")
    return ServiceHealth(
        name,
        READY_STATES.get(str(body.get("status")), "down"),
        breaker,
        checks=checks if isinstance(checks, dict) else {},
        version=str(body["version"]) if body.get("version") else None,
    )


async def service_health(backend: Backend) -> ServiceHealth:
    """Ask one service whether it is ready; a service that does not answer is down."""
    breaker = backend.client.breaker_state.label
    try:
        response = await backend.probe("/health/ready", HEALTH_DEADLINE_SECONDS)
    except httpx.HTTPError as exc:
        return ServiceHealth(backend.name, "down", breaker, problem=f"not answering ({exc!r})")
    try:
        body = response.json()
    except ValueError:
        body = None
    return readiness(backend.name, breaker, body)


async def health(backends: Backends) -> list[ServiceHealth]:
    """Every called service's health, asked concurrently."""
    return list(await asyncio.gather(*(service_health(b) for b in every_backend(backends))))


@dataclass(frozen=True)
class OrderSearch:
    """The operator's order search: status, customer (id or e-mail), the days placed, the page."""

    status: str | None = None
    customer: str | None = None
    placed_from: str | None = None
    placed_to: str | None = None
    page: int = 1

    def link(self, **changes: Any) -> str:
        """The query string of this search with ``changes`` (a new filter starts at page 1)."""
        values = {name: getattr(self, name) for name in (*ORDER_FILTERS, "page")}
        values.update(changes)
        if "page" not in changes:
            values["page"] = 1
        parts = [
            (name, str(value))
            for name, value in values.items()
            if value not in (None, "") and not (name == "page" and value == 1)
        ]
        return "?" + urlencode(parts) if parts else "?"

    def params(self, buyer_id: str | None) -> dict[str, str | int]:
        """Ordering's query parameters, the customer given as the buyer's user id."""
        filters = {
            "status": self.status,
            "customer": buyer_id,
            "placed_from": self.placed_from,
            "placed_to": self.placed_to,
        }
        params: dict[str, str | int] = {"page": self.page, "per_page": ORDERS_PER_PAGE}
        params.update({name: value for name, value in filters.items() if value})
        return params


def as_user_id(text: str) -> str | None:
    """``text`` as a user id when it is one (``None``: it must be an e-mail address)."""
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


EMPTY_PAGE: dict[str, Any] = {"data": [], "total": 0, "page": 1, "total_pages": 0}


class OrderDesk:
    """Every customer's orders, through ordering's admin API (the operator's token)."""

    def __init__(self, backends: Backends) -> None:
        self.ordering = backends.ordering
        self.identity = backends.identity

    async def buyer_id(self, customer: str, caller: Caller) -> str | None:
        """The user id of ``customer`` (an id, or an exact e-mail address); ``None``: unknown."""
        if (user_id := as_user_id(customer)) is not None:
            return user_id
        wanted = customer.strip().lower()
        params = {"email": wanted, "per_page": 100}
        found = await self.identity.json("GET", "/api/v1/users", caller, params=params)
        return next((str(u["id"]) for u in found["data"] if u["email"].lower() == wanted), None)

    async def search(self, search: OrderSearch, caller: Caller) -> tuple[dict[str, Any], str]:
        """One page of orders, newest first, and a message when the search cannot match.

        Raises:
            Refused: A filter ordering refuses (a date range ending before it starts: 422).
        """
        buyer = None
        if search.customer:
            buyer = await self.buyer_id(search.customer, caller)
            if buyer is None:
                return EMPTY_PAGE, f"No customer has the e-mail address “{search.customer}”."
        page: dict[str, Any] = await self.ordering.json(
            "GET", "/api/v1/admin/orders", caller, params=search.params(buyer)
        )
        return page, ""

    async def order(self, order_id: uuid.UUID, caller: Caller) -> dict[str, Any]:
        """Any customer's order, whole (lines, address, timeline, refunds).

        Raises:
            Refused: 404: no such order.
        """
        order: dict[str, Any] = await self.ordering.json(
            "GET", f"/api/v1/admin/orders/{order_id}", caller
        )
        return order
