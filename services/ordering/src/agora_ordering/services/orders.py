"""The customer's and the admin's order use cases: place, read, list, cancel.

Placing prices every line at catalog (one ``GetProducts`` batch), builds the aggregate and writes
it with its ``order.placed`` in the request's transaction, which also stores the answer under
the request's ``Idempotency-Key``: a retried POST replays the order instead of placing another.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from agora_chassis.db import utcnow
from agora_chassis.ids import new_id
from agora_chassis.outbox import build_event
from agora_contracts.envelope import EventPayload
from agora_contracts.ordering import ShippingAddress
from agora_ordering.domain import Line, Order, SagaTimeouts, cancel_by_customer
from agora_ordering.repositories.orders import OrderRepository
from agora_ordering.schemas.orders import OrderCreate
from agora_ordering.schemas.query import OrderFilter
from agora_ordering.services.errors import (
    EmptyBasket,
    MixedCurrencies,
    OrderNotFound,
    ProductNotForSale,
    ProductNotFound,
)
from agora_ordering.services.remote import (
    BasketContents,
    CatalogPrices,
    CatalogProduct,
    WantedLine,
)

logger = logging.getLogger(__name__)
SOURCE = "/agora/ordering"


def stage_events(orders: OrderRepository, order: Order, events: list[EventPayload]) -> None:
    """Write ``events`` about ``order`` to the outbox, in order, in the current transaction."""
    for payload in events:
        orders.add_event(build_event(payload, source=SOURCE, subject=str(order.id)))


class OrderService:
    """Orders of one request.

    Args:
        orders: The request's order repository.
        catalog: Prices the lines.
        basket: Reads the caller's basket for ``from_basket`` orders.
        timeouts: The saga's step timeouts.
    """

    def __init__(
        self,
        orders: OrderRepository,
        catalog: CatalogPrices,
        basket: BasketContents,
        timeouts: SagaTimeouts,
    ) -> None:
        self.orders = orders
        self.catalog = catalog
        self.basket = basket
        self.timeouts = timeouts

    async def place(self, buyer_id: uuid.UUID, command: OrderCreate) -> Order:
        """Place an order for ``buyer_id``: price it, store it PENDING, emit ``order.placed``.

        Raises:
            EmptyBasket: ``from_basket`` with an empty basket.
            ProductNotFound: A product catalog does not know (404).
            ProductNotForSale: A withdrawn product (422).
            MixedCurrencies: Lines priced in different currencies (422).
            TargetUnavailable: Catalog or basket cannot answer (503, nothing stored).
        """
        wanted = await self._wanted(buyer_id, command)
        products = await self.catalog.fetch(line.product_id for line in wanted)
        lines = [_priced(line, products.get(line.product_id)) for line in wanted]
        currencies = {products[line.product_id].currency for line in wanted}
        if len(currencies) != 1:
            raise MixedCurrencies(currencies)
        order, events = Order.place(
            order_id=new_id(),
            buyer_id=buyer_id,
            lines=lines,
            currency=currencies.pop(),
            payment_token=command.payment_token,
            ship_to=ShippingAddress(**command.ship_to.model_dump()),
            now=utcnow(),
            stock_timeout=self.timeouts.stock,
        )
        self.orders.add(order)
        stage_events(self.orders, order, events)
        logger.info("order %s placed (%d lines)", order.id, len(lines))
        return order

    async def get(self, buyer_id: uuid.UUID | None, order_id: uuid.UUID) -> Order:
        """The order; with ``buyer_id``, only if it is that customer's.

        Raises:
            OrderNotFound: No such order, or another customer's.
        """
        order = await self.orders.get(order_id)
        if order is None or (buyer_id is not None and order.buyer_id != buyer_id):
            raise OrderNotFound(order_id)
        return order

    async def page(self, where: OrderFilter, offset: int, limit: int) -> tuple[list[Order], int]:
        """One page of orders matching ``where``, newest first, and the total."""
        return await self.orders.page(where, offset, limit)

    async def cancel(self, buyer_id: uuid.UUID, order_id: uuid.UUID) -> Order:
        """The customer cancels their order (before it is PAID); emits ``order.cancelled``.

        Raises:
            OrderNotFound: No such order, or another customer's.
            TransitionNotAllowed: The order is PAID or CANCELLED already (409).
        """
        order = await self.orders.get(order_id, lock=True)
        if order is None or order.buyer_id != buyer_id:
            raise OrderNotFound(order_id)
        reaction = cancel_by_customer(order, utcnow())
        await self.orders.save(order)
        stage_events(self.orders, order, list(reaction.events))
        logger.info("order %s cancelled by its customer", order.id)
        return order

    async def _wanted(self, buyer_id: uuid.UUID, command: OrderCreate) -> list[WantedLine]:
        if command.lines is not None:
            return [WantedLine(line.product_id, line.quantity) for line in command.lines]
        lines = await self.basket.lines(buyer_id)
        if not lines:
            raise EmptyBasket
        return lines


def _priced(line: WantedLine, product: CatalogProduct | None) -> Line:
    if product is None:
        raise ProductNotFound(line.product_id)
    if not product.active:
        raise ProductNotForSale(line.product_id)
    return Line(line.product_id, line.quantity, product.unit_price, product.name)


def placed_between(start: dt.date | None, end: dt.date | None) -> tuple[dt.datetime | None, ...]:
    """Whole UTC days from ``start`` up to and including ``end``, as a half-open range.

    The last day a date can name (9999-12-31) has no next day: it bounds nothing.
    """
    low = dt.datetime.combine(start, dt.time(), dt.UTC) if start else None
    high = None
    if end is not None and end < dt.date.max:
        high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
    return low, high
