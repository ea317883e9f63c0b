"""How ordering answers each saga reply, in any order and any number of times.

One function per incoming message (and per deadline). Each takes the order as loaded in the
consumer's transaction, changes it through the aggregate's transitions and returns a
:class:`Reaction`: what happened and the events to write to the outbox in that transaction.
The consumer's inbox already drops a redelivered event id; these functions are idempotent on
their own too, because the replies of different steps race each other (a timeout against a
late answer, a customer's cancel against a charge) and the same fact may come under another
event id (a dead letter replayed after the order moved on, a second charge of one order).

A late ``stock.reserved`` for a cancelled order emits nothing: the ``order.cancelled`` written
when the order was cancelled reaches catalog too, and catalog releases the reservation whichever
of the two it handles first (a cancel before the placement leaves a released reservation row that
makes the late ``order.placed`` reserve nothing). A charge ordering cannot keep is refunded.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from enum import StrEnum

from agora_contracts.catalog import StockRejectedV1, StockReservedV1
from agora_contracts.envelope import EventPayload
from agora_contracts.ordering import CancellationReason
from agora_contracts.payment import PaymentFailedV1, PaymentRefundedV1, PaymentSucceededV1
from agora_ordering.domain.errors import UnexpectedReply
from agora_ordering.domain.order import Order, OrderStatus, RefundStatus, Step

STOCK_TIMEOUT = dt.timedelta(seconds=30)
PAYMENT_TIMEOUT = dt.timedelta(minutes=15)
BEFORE_PAYMENT_REQUESTED = frozenset({OrderStatus.PENDING, OrderStatus.STOCK_RESERVED})


@dataclass(frozen=True)
class SagaTimeouts:
    """How long ordering waits for each step (from the service's settings).

    Attributes:
        stock: For catalog's ``stock.reserved`` / ``stock.rejected`` after ``order.placed``.
        payment: For payment's answer after ``order.awaiting_payment``.
    """

    stock: dt.timedelta = STOCK_TIMEOUT
    payment: dt.timedelta = PAYMENT_TIMEOUT


class Effect(StrEnum):
    """What a reply did to the order."""

    APPLIED = "applied"
    """The order moved on."""
    COMPENSATED = "compensated"
    """The order stayed where it was; a charge it cannot keep is to be refunded."""
    NO_OP = "no_op"
    """Nothing to do: a duplicate, a late reply to a finished step, a stale deadline."""


@dataclass(frozen=True)
class Reaction:
    """The outcome of one reply.

    Attributes:
        effect: What it did.
        events: Payloads to write to the outbox, in order, in the same transaction.
        note: Why, for the log line.
    """

    effect: Effect
    events: tuple[EventPayload, ...] = ()
    note: str = ""


def _applied(events: list[EventPayload], note: str) -> Reaction:
    return Reaction(Effect.APPLIED, tuple(events), note)


def _no_op(order: Order, what: str) -> Reaction:
    return Reaction(Effect.NO_OP, (), f"{what} ignored: order is {order.status}")


def _check_subject(order: Order, order_id: uuid.UUID, what: str) -> None:
    if order_id != order.id:
        raise UnexpectedReply(f"{what} for order {order_id} delivered to order {order.id}")


def on_stock_reserved(
    order: Order, reply: StockReservedV1, now: dt.datetime, timeouts: SagaTimeouts
) -> Reaction:
    """Catalog reserved every line: ask payment to charge (PENDING → AWAITING_PAYMENT).

    Raises:
        UnexpectedReply: The reservation holds other lines than the order's.

    Any other state: nothing to do (a duplicate; or a cancelled order whose reservation catalog
    releases on the ``order.cancelled`` already written; see the module docstring).
    """
    _check_subject(order, reply.order_id, "stock.reserved")
    if order.status != OrderStatus.PENDING:
        return _no_op(order, "stock.reserved")
    reserved = {(line.product_id, line.quantity) for line in reply.lines}
    if reserved != {(line.product_id, line.quantity) for line in order.lines}:
        raise UnexpectedReply(f"stock.reserved for order {order.id} holds other lines")
    events = order.reserve_stock(now)
    events += order.await_payment(now, timeouts.payment)
    return _applied(events, "stock reserved, payment requested")


def on_stock_rejected(order: Order, reply: StockRejectedV1, now: dt.datetime) -> Reaction:
    """Catalog could not reserve the order: cancel it, OUT_OF_STOCK (from PENDING only).

    Catalog reserved nothing, and the ``order.cancelled`` is a no-op there. Any other state:
    nothing to do (catalog answers an order once, so a rejection after a reservation is a
    duplicate of nothing real).
    """
    _check_subject(order, reply.order_id, "stock.rejected")
    if order.status != OrderStatus.PENDING:
        return _no_op(order, "stock.rejected")
    names = {line.product_id: line.name for line in order.lines}
    short = ", ".join(names.get(line.product_id, str(line.product_id)) for line in reply.short)
    events = order.cancel(CancellationReason.OUT_OF_STOCK, now, detail=short)
    return _applied(events, "out of stock")


def on_payment_succeeded(order: Order, reply: PaymentSucceededV1, now: dt.datetime) -> Reaction:
    """Payment charged the order: mark it PAID, or refund a charge it cannot keep.

    AWAITING_PAYMENT → PAID (catalog sells the reservation). The charge that paid it, again:
    nothing. Another charge of a PAID order, or any charge of a CANCELLED one (a timeout or the
    customer won the race): ``order.refund_requested``, once per charge.

    Raises:
        UnexpectedReply: A charge before payment was asked for (payment never charges an order
            it has not been sent), or of another amount or currency than the order's;
            dead-lettered for an operator, never guessed at.
    """
    _check_subject(order, reply.order_id, "payment.succeeded")
    if order.status in BEFORE_PAYMENT_REQUESTED:
        raise UnexpectedReply(f"order {order.id} was charged while {order.status}")
    if order.status == OrderStatus.AWAITING_PAYMENT:
        if (reply.amount, reply.currency) != (order.total, order.currency):
            # Not what was asked: never mark paid on it; an operator refunds or settles it.
            raise UnexpectedReply(
                f"order {order.id} of {order.total} {order.currency} was charged "
                f"{reply.amount} {reply.currency}"
            )
        return _applied(order.mark_paid(reply.payment_id, now), "paid")
    if reply.payment_id == order.payment_id or order.refund_for(reply.payment_id) is not None:
        return _no_op(order, f"payment.succeeded {reply.payment_id} (handled before)")
    events = order.request_refund(reply.payment_id, reply.amount, now)
    note = f"charge {reply.payment_id} of a {order.status} order is refunded"
    return Reaction(Effect.COMPENSATED, tuple(events), note)


def on_payment_failed(order: Order, reply: PaymentFailedV1, now: dt.datetime) -> Reaction:
    """Payment could not charge the order: cancel it, PAYMENT_DECLINED (catalog releases).

    A PAID or CANCELLED order stays as it is (a failed attempt does not undo a charge that
    succeeded; a cancelled order is cancelled already).

    Raises:
        UnexpectedReply: A failure before payment was asked for.
    """
    _check_subject(order, reply.order_id, "payment.failed")
    if order.status in BEFORE_PAYMENT_REQUESTED:
        raise UnexpectedReply(f"order {order.id} had a payment fail while {order.status}")
    if order.status != OrderStatus.AWAITING_PAYMENT:
        return _no_op(order, "payment.failed")
    events = order.cancel(CancellationReason.PAYMENT_DECLINED, now, detail=reply.reason)
    return _applied(events, f"payment failed: {reply.reason}")


def on_payment_refunded(order: Order, reply: PaymentRefundedV1) -> Reaction:
    """Payment gave back a charge ordering asked it to refund: record it (no event, no state).

    Raises:
        UnexpectedReply: A refund ordering never asked for.
    """
    _check_subject(order, reply.order_id, "payment.refunded")
    refund = order.refund_for(reply.payment_id)
    if refund is None:
        raise UnexpectedReply(f"charge {reply.payment_id} of order {order.id} was not to refund")
    if refund.status == RefundStatus.REFUNDED:
        return _no_op(order, "payment.refunded (recorded before)")
    refund.status = RefundStatus.REFUNDED
    return _applied([], f"charge {reply.payment_id} refunded")


def on_deadline(order: Order, step: Step, now: dt.datetime) -> Reaction:
    """A step's deadline passed: cancel the order, TIMED_OUT, if it still waits on that step.

    The scheduler may fire late, twice, or for a step the order has left; only the deadline the
    order holds now, once it has passed, cancels it.
    """
    due = order.deadline_at
    if order.deadline_step != step or due is None or now < due:
        return _no_op(order, f"{step} deadline")
    events = order.cancel(CancellationReason.TIMED_OUT, now, detail=f"no {step} answer in time")
    return _applied(events, f"{step} timed out")


def cancel_by_customer(order: Order, now: dt.datetime) -> Reaction:
    """The customer cancels the order, allowed before it is PAID.

    If payment charges it after all, that charge is refunded (:func:`on_payment_succeeded`).

    Raises:
        TransitionNotAllowed: The order is PAID or CANCELLED.
    """
    events = order.cancel(CancellationReason.CANCELLED_BY_CUSTOMER, now)
    return _applied(events, "cancelled by the customer")
