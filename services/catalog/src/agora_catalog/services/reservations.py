"""Stock reservations for orders: all lines or none, released on cancel, sold on payment.

Every use case locks the stock rows it touches in product-id order, so concurrent reservations
queue instead of overselling (and cannot deadlock); the database's check constraints back this up.
One reservation row per order makes each step idempotent even when the same order arrives in
two different events, on top of the consumer's inbox.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter

from agora_catalog.models import Product, Reservation, ReservationState
from agora_catalog.repositories.products import ProductRepository
from agora_catalog.repositories.reservations import ReservationRepository
from agora_catalog.services.cache import ProductCache
from agora_catalog.services.errors import ReservationMissing
from agora_chassis.outbox import build_event
from agora_contracts.catalog import ShortLine, StockRejectedV1, StockReservedV1
from agora_contracts.envelope import EventPayload
from agora_contracts.ordering import OrderLine

logger = logging.getLogger(__name__)

SOURCE = "/agora/catalog"


def merge_lines(lines: list[OrderLine]) -> dict[uuid.UUID, int]:
    """Units per product (an order listing a product twice asks for the sum)."""
    units: Counter[uuid.UUID] = Counter()
    for line in lines:
        units[line.product_id] += line.quantity
    return dict(sorted(units.items()))


class ReservationService:
    """Reservations, for one transaction."""

    def __init__(
        self,
        products: ProductRepository,
        reservations: ReservationRepository,
        cache: ProductCache,
    ) -> None:
        """Work through the repositories; stock changes drop the products' cache entries."""
        self.products = products
        self.reservations = reservations
        self.cache = cache

    async def reserve(self, order_id: uuid.UUID, lines: list[OrderLine]) -> bool:
        """Reserve every line of the order, or none; emits ``stock.reserved`` or ``.rejected``.

        Returns:
            Whether the order's stock is reserved (also for an order reserved before).
        """
        existing = await self.reservations.for_order(order_id, for_update=True)
        if existing is not None:
            logger.info("order %s already has a %s reservation", order_id, existing.state)
            return existing.state == ReservationState.RESERVED
        wanted = merge_lines(lines)
        products = await self.products.get_many(list(wanted))
        active = {product.id for product in products if product.active}
        stock = await self.products.lock_stock(list(wanted))
        short = [
            ShortLine(
                product_id=product_id,
                requested=units,
                available=stock[product_id].available if product_id in active else 0,
            )
            for product_id, units in wanted.items()
            if product_id not in active or stock[product_id].available < units
        ]
        now = dt.datetime.now(dt.UTC)
        record = [{"product_id": str(p), "quantity": q} for p, q in wanted.items()]
        if short:
            self._record(order_id, record, ReservationState.REJECTED)
            self._emit(StockRejectedV1(order_id=order_id, short=short, rejected_at=now), order_id)
            return False
        for product_id, units in wanted.items():
            stock[product_id].reserved += units
        self._record(order_id, record, ReservationState.RESERVED)
        self._emit(StockReservedV1(order_id=order_id, lines=lines, reserved_at=now), order_id)
        self._invalidate_after_commit(products)
        return True

    async def release(self, order_id: uuid.UUID) -> None:
        """Give a cancelled order's reserved units back (no-op unless reserved)."""
        reservation = await self.reservations.for_order(order_id, for_update=True)
        if reservation is None:
            # Cancelled before it was placed here: remember it, so a late order.placed is refused.
            self._record(order_id, [], ReservationState.RELEASED)
            return
        if reservation.state != ReservationState.RESERVED:
            return
        units = _units(reservation)
        stock = await self.products.lock_stock(list(units))
        for product_id, quantity in units.items():
            if product_id in stock:  # a product deleted meanwhile took its stock with it
                stock[product_id].reserved -= quantity
        reservation.state = ReservationState.RELEASED
        self._invalidate_after_commit(await self.products.get_many(list(units)))

    async def commit(self, order_id: uuid.UUID) -> None:
        """A paid order's reserved units leave the shelf (no-op when already committed)."""
        reservation = await self.reservations.for_order(order_id, for_update=True)
        if reservation is None or reservation.state not in {
            ReservationState.RESERVED,
            ReservationState.COMMITTED,
        }:
            state = reservation.state if reservation else "none"
            raise ReservationMissing(f"order {order_id} was paid but its reservation is {state}")
        if reservation.state == ReservationState.COMMITTED:
            return
        units = _units(reservation)
        stock = await self.products.lock_stock(list(units))
        for product_id, quantity in units.items():
            if product_id in stock:
                stock[product_id].reserved -= quantity
                stock[product_id].on_hand -= quantity
        reservation.state = ReservationState.COMMITTED
        self._invalidate_after_commit(await self.products.get_many(list(units)))

    def _record(self, order_id: uuid.UUID, lines: list[dict[str, object]], state: str) -> None:
        self.reservations.add(Reservation(order_id=order_id, lines=lines, state=state))

    def _emit(self, payload: EventPayload, order_id: uuid.UUID) -> None:
        event = build_event(payload, source=SOURCE, subject=str(order_id))
        self.products.add_event(event)

    def _invalidate_after_commit(self, products: list[Product]) -> None:
        keys = [(product.id, product.sku) for product in products]
        cache = self.cache

        async def invalidate() -> None:
            for product_id, sku in keys:
                await cache.invalidate(product_id, sku)

        self.products.after_commit(invalidate)


def _units(reservation: Reservation) -> dict[uuid.UUID, int]:
    return {uuid.UUID(line["product_id"]): int(line["quantity"]) for line in reservation.lines}
