"""The saga's replies and deadlines, applied to stored orders in the caller's transaction.

The consumer calls one method per reply (``stock.reserved``, ``payment.succeeded``...) with the
transaction that also records the event in its inbox; the deadline scheduler calls
:meth:`SagaService.fire_due`. Each loads the order locked, lets the domain decide
(:mod:`agora_ordering.domain.saga`), saves it and stages the resulting events, so the reply, the
order's new state and the messages it causes commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable

from agora_chassis.db import utcnow
from agora_chassis.messaging import PermanentFailure
from agora_contracts.catalog import StockRejectedV1, StockReservedV1
from agora_contracts.payment import PaymentFailedV1, PaymentRefundedV1, PaymentSucceededV1
from agora_ordering.domain import (
    Effect,
    Order,
    Reaction,
    SagaTimeouts,
    Step,
    UnexpectedReply,
    on_deadline,
    on_payment_failed,
    on_payment_refunded,
    on_payment_succeeded,
    on_stock_rejected,
    on_stock_reserved,
)
from agora_ordering.repositories.orders import OrderRepository
from agora_ordering.services.orders import stage_events

logger = logging.getLogger(__name__)

Decide = Callable[[Order, dt.datetime], Reaction]


class SagaService:
    """Ordering's side of the checkout saga, in one transaction.

    Args:
        orders: The transaction's order repository.
        timeouts: The saga's step timeouts.
        clock: The time now (tests pass their own).
    """

    def __init__(
        self,
        orders: OrderRepository,
        timeouts: SagaTimeouts,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.orders = orders
        self.timeouts = timeouts
        self.clock = clock

    async def stock_reserved(self, reply: StockReservedV1) -> Reaction:
        """Catalog reserved the order's stock: request payment."""
        return await self._apply(
            reply.order_id,
            "stock.reserved",
            lambda o, now: on_stock_reserved(o, reply, now, self.timeouts),
        )

    async def stock_rejected(self, reply: StockRejectedV1) -> Reaction:
        """Catalog could not reserve the order's stock: cancel it."""
        return await self._apply(
            reply.order_id, "stock.rejected", lambda o, now: on_stock_rejected(o, reply, now)
        )

    async def payment_succeeded(self, reply: PaymentSucceededV1) -> Reaction:
        """Payment charged the order: mark it paid, or refund the charge."""
        return await self._apply(
            reply.order_id, "payment.succeeded", lambda o, now: on_payment_succeeded(o, reply, now)
        )

    async def payment_failed(self, reply: PaymentFailedV1) -> Reaction:
        """Payment could not charge the order: cancel it."""
        return await self._apply(
            reply.order_id, "payment.failed", lambda o, now: on_payment_failed(o, reply, now)
        )

    async def payment_refunded(self, reply: PaymentRefundedV1) -> Reaction:
        """Payment gave a charge back: record it."""
        return await self._apply(
            reply.order_id, "payment.refunded", lambda o, _now: on_payment_refunded(o, reply)
        )

    async def fire_due(self, limit: int) -> int:
        """Cancel the orders whose step deadline has passed (at most ``limit``).

        Returns:
            How many due orders were looked at (``limit`` means: look again at once).
        """
        now = self.clock()
        due = await self.orders.due(now, limit)
        for order in due:
            step = order.deadline_step or Step.STOCK
            reaction = on_deadline(order, step, now)
            await self._finish(order, reaction, f"{step} deadline")
        return len(due)

    async def next_deadline(self) -> dt.datetime | None:
        """The earliest deadline any order waits on."""
        return await self.orders.next_deadline()

    async def _apply(self, order_id: uuid.UUID, what: str, decide: Decide) -> Reaction:
        order = await self.orders.get(order_id, lock=True)
        if order is None:
            # Ordering writes the order before any message about it exists: a reply about an
            # unknown order was not caused by this service, and no retry will make it known.
            raise PermanentFailure(f"{what} for unknown order {order_id}")
        try:
            reaction = decide(order, self.clock())
        except UnexpectedReply as exc:
            raise PermanentFailure(str(exc)) from exc
        await self._finish(order, reaction, what)
        return reaction

    async def _finish(self, order: Order, reaction: Reaction, what: str) -> None:
        if reaction.effect != Effect.NO_OP:
            await self.orders.save(order)
        stage_events(self.orders, order, list(reaction.events))
        logger.info("order %s: %s → %s (%s)", order.id, what, order.status, reaction.note)
