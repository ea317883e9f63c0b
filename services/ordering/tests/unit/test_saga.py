"""The saga's reply handling: each reply in each state, duplicates and late answers."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest

from agora_contracts.ordering import (
    CancellationReason,
    OrderAwaitingPaymentV1,
    OrderCancelledV1,
    OrderPaidV1,
    OrderRefundRequestedV1,
    RefundReason,
)
from agora_contracts.payment import PaymentFailureReason
from agora_ordering.domain import (
    Effect,
    Order,
    OrderStatus,
    RefundStatus,
    Step,
    TransitionNotAllowed,
    UnexpectedReply,
    cancel_by_customer,
    on_deadline,
    on_payment_failed,
    on_payment_refunded,
    on_payment_succeeded,
    on_stock_rejected,
    on_stock_reserved,
)
from services.ordering.tests.unit.factories import (
    T0,
    TIMEOUTS,
    awaiting_payment,
    failed,
    place,
    refunded,
    rejected,
    reserved,
    succeeded,
)

LATER = T0 + dt.timedelta(seconds=1)
AFTER_STOCK_DEADLINE = T0 + TIMEOUTS.stock
AFTER_PAYMENT_DEADLINE = T0 + TIMEOUTS.payment


def test_stock_reserved_requests_payment_in_one_step() -> None:
    order = place()

    reaction = on_stock_reserved(order, reserved(order), LATER, TIMEOUTS)

    assert reaction.effect == Effect.APPLIED
    assert [entry.status for entry in order.timeline] == [
        OrderStatus.PENDING,
        OrderStatus.STOCK_RESERVED,
        OrderStatus.AWAITING_PAYMENT,
    ]
    [event] = reaction.events
    assert isinstance(event, OrderAwaitingPaymentV1)
    assert event.deadline == LATER + TIMEOUTS.payment == order.deadline_at
    assert order.deadline_step == Step.PAYMENT


def test_stock_reserved_twice_is_a_no_op() -> None:
    order = awaiting_payment()
    timeline = list(order.timeline)

    reaction = on_stock_reserved(order, reserved(order), LATER, TIMEOUTS)

    assert (reaction.effect, reaction.events) == (Effect.NO_OP, ())
    assert order.timeline == timeline


def test_stock_reserved_for_a_cancelled_order_emits_nothing_more() -> None:
    # Catalog releases on the order.cancelled already written (see the saga module docstring).
    order = place()
    on_deadline(order, Step.STOCK, AFTER_STOCK_DEADLINE)

    reaction = on_stock_reserved(order, reserved(order), AFTER_STOCK_DEADLINE, TIMEOUTS)

    assert (reaction.effect, reaction.events) == (Effect.NO_OP, ())
    assert order.status == OrderStatus.CANCELLED


def test_stock_rejected_cancels_out_of_stock_naming_the_short_products() -> None:
    order = place()

    reaction = on_stock_rejected(order, rejected(order), LATER)

    assert reaction.effect == Effect.APPLIED
    assert order.cancel_reason == CancellationReason.OUT_OF_STOCK
    [event] = reaction.events
    assert isinstance(event, OrderCancelledV1)
    assert event.reason_code == CancellationReason.OUT_OF_STOCK
    assert event.reason == f"out of stock: {order.lines[0].name}"
    assert event.receipt == order.receipt()


@pytest.mark.parametrize("twice", [True, False])
def test_stock_rejected_after_cancel_or_reservation_is_a_no_op(twice: bool) -> None:
    order = place()
    if twice:
        on_stock_rejected(order, rejected(order), LATER)
    else:
        on_stock_reserved(order, reserved(order), LATER, TIMEOUTS)
    status = order.status

    reaction = on_stock_rejected(order, rejected(order), LATER)

    assert (reaction.effect, reaction.events, order.status) == (Effect.NO_OP, (), status)


def test_payment_succeeded_marks_the_order_paid() -> None:
    order = awaiting_payment()
    charge = succeeded(order)

    reaction = on_payment_succeeded(order, charge, LATER)

    assert reaction.effect == Effect.APPLIED
    assert (order.status, order.payment_id) == (OrderStatus.PAID, charge.payment_id)
    assert reaction.events == (
        OrderPaidV1(order_id=order.id, paid_at=LATER, receipt=order.receipt()),
    )


def test_payment_succeeded_twice_is_a_no_op() -> None:
    order = awaiting_payment()
    charge = succeeded(order)
    on_payment_succeeded(order, charge, LATER)

    reaction = on_payment_succeeded(order, charge, LATER)

    assert (reaction.effect, reaction.events) == (Effect.NO_OP, ())
    assert order.refunds == []


def test_payment_succeeded_after_a_timeout_requests_a_refund_once() -> None:
    order = awaiting_payment()
    on_deadline(order, Step.PAYMENT, AFTER_PAYMENT_DEADLINE)
    charge = succeeded(order)

    first = on_payment_succeeded(order, charge, AFTER_PAYMENT_DEADLINE)
    again = on_payment_succeeded(order, charge, AFTER_PAYMENT_DEADLINE)

    assert first.effect == Effect.COMPENSATED
    [event] = first.events
    assert isinstance(event, OrderRefundRequestedV1)
    assert (event.payment_id, event.amount, event.reason) == (
        charge.payment_id,
        charge.amount,
        RefundReason.ORDER_CANCELLED,
    )
    assert (again.effect, again.events) == (Effect.NO_OP, ())
    assert order.status == OrderStatus.CANCELLED


def test_payment_succeeded_second_charge_of_a_paid_order_is_refunded() -> None:
    order = awaiting_payment()
    on_payment_succeeded(order, succeeded(order), LATER)

    reaction = on_payment_succeeded(order, succeeded(order), LATER)

    assert reaction.effect == Effect.COMPENSATED
    [event] = reaction.events
    assert isinstance(event, OrderRefundRequestedV1)
    assert event.reason == RefundReason.DUPLICATE_CHARGE
    assert order.status == OrderStatus.PAID


def test_payment_succeeded_before_payment_was_requested_is_unexpected() -> None:
    order = place()

    with pytest.raises(UnexpectedReply, match="pending"):
        on_payment_succeeded(order, succeeded(order), LATER)

    assert (order.status, order.payment_id) == (OrderStatus.PENDING, None)


@pytest.mark.parametrize(
    "change", [{"amount": Decimal("0.01")}, {"currency": "USD"}], ids=["amount", "currency"]
)
def test_payment_succeeded_for_another_sum_is_unexpected(change: dict[str, object]) -> None:
    order = awaiting_payment()
    charge = succeeded(order).model_copy(update=change)

    with pytest.raises(UnexpectedReply, match="was charged"):
        on_payment_succeeded(order, charge, LATER)

    assert (order.status, order.payment_id) == (OrderStatus.AWAITING_PAYMENT, None)


@pytest.mark.parametrize("change", ["quantity", "product"])
def test_stock_reserved_for_other_lines_is_unexpected(change: str) -> None:
    order = place()
    reply = reserved(order)
    line = reply.lines[0]
    other = (
        line.model_copy(update={"quantity": line.quantity + 1})
        if change == "quantity"
        else line.model_copy(update={"product_id": uuid.uuid4()})
    )

    with pytest.raises(UnexpectedReply, match="other lines"):
        on_stock_reserved(order, reply.model_copy(update={"lines": [other]}), LATER, TIMEOUTS)

    assert order.status == OrderStatus.PENDING


def test_payment_failed_before_payment_was_requested_is_unexpected() -> None:
    order = place()

    with pytest.raises(UnexpectedReply, match="pending"):
        on_payment_failed(order, failed(order), LATER)

    assert order.status == OrderStatus.PENDING


def test_payment_failed_cancels_payment_declined_with_the_reason() -> None:
    order = awaiting_payment()

    reaction = on_payment_failed(
        order, failed(order, PaymentFailureReason.INSUFFICIENT_FUNDS), LATER
    )

    assert reaction.effect == Effect.APPLIED
    assert order.cancel_reason == CancellationReason.PAYMENT_DECLINED
    [event] = reaction.events
    assert isinstance(event, OrderCancelledV1)
    assert event.reason == "payment declined: insufficient_funds"


@pytest.mark.parametrize("first", ["failed", "succeeded"])
def test_payment_failed_after_the_order_is_final_is_a_no_op(first: str) -> None:
    order = awaiting_payment()
    if first == "failed":
        on_payment_failed(order, failed(order), LATER)
    else:
        on_payment_succeeded(order, succeeded(order), LATER)
    status = order.status

    reaction = on_payment_failed(order, failed(order), LATER)

    assert (reaction.effect, reaction.events, order.status) == (Effect.NO_OP, (), status)


def test_payment_refunded_records_the_refund_once() -> None:
    order = awaiting_payment()
    cancel_by_customer(order, LATER)
    charge = succeeded(order)
    on_payment_succeeded(order, charge, LATER)

    first = on_payment_refunded(order, refunded(order, charge.payment_id))
    again = on_payment_refunded(order, refunded(order, charge.payment_id))

    assert (first.effect, again.effect) == (Effect.APPLIED, Effect.NO_OP)
    assert first.events == again.events == ()
    assert [refund.status for refund in order.refunds] == [RefundStatus.REFUNDED]


def test_payment_refunded_never_requested_is_unexpected() -> None:
    order = awaiting_payment()

    with pytest.raises(UnexpectedReply, match="not to refund"):
        on_payment_refunded(order, refunded(order, uuid.uuid4()))


def test_reply_about_another_order_is_unexpected() -> None:
    order, other = place(), place()

    with pytest.raises(UnexpectedReply, match="delivered to order"):
        on_stock_reserved(order, reserved(other), LATER, TIMEOUTS)


@pytest.mark.parametrize(
    ("make", "step", "deadline"),
    [
        (place, Step.STOCK, AFTER_STOCK_DEADLINE),
        (awaiting_payment, Step.PAYMENT, AFTER_PAYMENT_DEADLINE),
    ],
)
def test_deadline_passed_cancels_timed_out_once(
    make: Callable[[], Order], step: Step, deadline: dt.datetime
) -> None:
    order = make()

    first = on_deadline(order, step, deadline)
    again = on_deadline(order, step, deadline + dt.timedelta(seconds=1))

    assert first.effect == Effect.APPLIED
    assert order.cancel_reason == CancellationReason.TIMED_OUT
    [event] = first.events
    assert isinstance(event, OrderCancelledV1)
    assert event.reason_code == CancellationReason.TIMED_OUT
    assert (again.effect, again.events) == (Effect.NO_OP, ())


def test_deadline_not_yet_passed_is_a_no_op() -> None:
    order = place()

    reaction = on_deadline(order, Step.STOCK, AFTER_STOCK_DEADLINE - dt.timedelta(microseconds=1))

    assert (reaction.effect, order.status) == (Effect.NO_OP, OrderStatus.PENDING)


def test_deadline_of_a_step_the_order_has_left_is_a_no_op() -> None:
    order = awaiting_payment()

    reaction = on_deadline(order, Step.STOCK, AFTER_PAYMENT_DEADLINE)

    assert (reaction.effect, order.status) == (Effect.NO_OP, OrderStatus.AWAITING_PAYMENT)


@pytest.mark.parametrize("make", [place, awaiting_payment])
def test_customer_cancel_before_paid_cancels(make: Callable[[], Order]) -> None:
    order = make()

    reaction = cancel_by_customer(order, LATER)

    assert reaction.effect == Effect.APPLIED
    assert order.cancel_reason == CancellationReason.CANCELLED_BY_CUSTOMER
    assert len(reaction.events) == 1


@pytest.mark.parametrize("final", ["paid", "cancelled"])
def test_customer_cancel_of_a_final_order_is_refused(final: str) -> None:
    order = awaiting_payment()
    if final == "paid":
        on_payment_succeeded(order, succeeded(order), LATER)
    else:
        cancel_by_customer(order, LATER)
    timeline = list(order.timeline)

    with pytest.raises(TransitionNotAllowed):
        cancel_by_customer(order, LATER)

    assert order.timeline == timeline
