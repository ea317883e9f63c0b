"""The Order aggregate: each transition, its timeline entry and events, and each refusal."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from agora_contracts.ordering import (
    CancellationReason,
    OrderAwaitingPaymentV1,
    OrderCancelledV1,
    OrderPaidV1,
    OrderPlacedV1,
    OrderRefundRequestedV1,
    RefundReason,
)
from agora_ordering.domain import (
    CANCELLABLE_FROM,
    TERMINAL,
    InvalidOrder,
    Line,
    Order,
    OrderStatus,
    Step,
    TimelineEntry,
    TransitionNotAllowed,
)
from services.ordering.tests.unit.factories import PRICE, SHIP_TO, T0, TIMEOUTS, place

LATER = T0 + dt.timedelta(seconds=5)


def _at(status: OrderStatus) -> Order:
    """An order taken along the happy path up to ``status`` (CANCELLED: by the customer)."""
    order = place()
    if status == OrderStatus.CANCELLED:
        order.cancel(CancellationReason.CANCELLED_BY_CUSTOMER, T0)
    if status in {OrderStatus.STOCK_RESERVED, OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID}:
        order.reserve_stock(T0)
    if status in {OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID}:
        order.await_payment(T0, TIMEOUTS.payment)
    if status == OrderStatus.PAID:
        order.mark_paid(uuid.uuid4(), T0)
    return order


def test_order_place_is_pending_with_a_stock_deadline_and_emits_order_placed() -> None:
    order_id, buyer_id, product_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    order, events = Order.place(
        order_id=order_id,
        buyer_id=buyer_id,
        lines=[Line(product_id, 3, Decimal("1.10"), "Trail shoe")],
        currency="EUR",
        payment_token="tok_x",
        ship_to=SHIP_TO,
        now=T0,
        stock_timeout=dt.timedelta(seconds=30),
    )

    assert order.status == OrderStatus.PENDING
    assert order.timeline == [TimelineEntry(OrderStatus.PENDING, T0)]
    assert (order.deadline_step, order.deadline_at) == (Step.STOCK, T0 + dt.timedelta(seconds=30))
    [placed] = events
    assert isinstance(placed, OrderPlacedV1)
    assert (placed.order_id, placed.buyer_id, placed.placed_at) == (order_id, buyer_id, T0)
    assert [(ln.product_id, ln.quantity) for ln in placed.lines] == [(product_id, 3)]
    assert order.total == Decimal("3.30")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "at least one line"),
        (
            [
                Line(uuid.UUID(int=1), 1, PRICE, "Trail shoe"),
                Line(uuid.UUID(int=1), 2, PRICE, "Trail shoe"),
            ],
            "one line only",
        ),
        ([Line(uuid.uuid4(), 1, Decimal("0.00"), "Trail shoe")], "positive"),
        ([Line(uuid.uuid4(), 0, PRICE, "Trail shoe")], "positive"),
    ],
)
def test_order_place_invalid_lines_are_refused(lines: list[Line], message: str) -> None:
    with pytest.raises(InvalidOrder, match=message):
        Order.place(
            order_id=uuid.uuid4(),
            buyer_id=uuid.uuid4(),
            lines=lines,
            currency="EUR",
            payment_token="tok_x",
            ship_to=SHIP_TO,
            now=T0,
            stock_timeout=TIMEOUTS.stock,
        )


def test_order_total_sums_lines_to_cents() -> None:
    order = place()
    order.lines.append(Line(uuid.uuid4(), 3, Decimal("0.333"), "Trail shoe"))

    assert order.total == Decimal("50.98")


def test_order_reserve_stock_moves_to_stock_reserved_without_events() -> None:
    order = place()

    assert order.reserve_stock(LATER) == []

    assert order.status == OrderStatus.STOCK_RESERVED
    assert order.timeline[-1] == TimelineEntry(OrderStatus.STOCK_RESERVED, LATER)
    assert (order.deadline_step, order.deadline_at) == (None, None)


def test_order_await_payment_emits_the_charge_request_with_its_deadline() -> None:
    order = _at(OrderStatus.STOCK_RESERVED)

    [event] = order.await_payment(LATER, dt.timedelta(minutes=15))

    assert order.status == OrderStatus.AWAITING_PAYMENT
    assert (order.deadline_step, order.deadline_at) == (
        Step.PAYMENT,
        LATER + dt.timedelta(minutes=15),
    )
    assert isinstance(event, OrderAwaitingPaymentV1)
    assert (event.order_id, event.buyer_id) == (order.id, order.buyer_id)
    assert (event.amount, event.currency) == (Decimal("49.98"), "EUR")
    assert (event.payment_token, event.deadline) == ("tok_test", order.deadline_at)


def test_order_mark_paid_records_the_charge_and_emits_order_paid() -> None:
    order = _at(OrderStatus.AWAITING_PAYMENT)
    payment_id = uuid.uuid4()

    [event] = order.mark_paid(payment_id, LATER)

    assert (order.status, order.payment_id) == (OrderStatus.PAID, payment_id)
    assert event == OrderPaidV1(order_id=order.id, paid_at=LATER, receipt=order.receipt())
    assert event.receipt is not None
    assert (event.receipt.buyer_id, event.receipt.total) == (order.buyer_id, Decimal("49.98"))
    assert [(ln.name, ln.subtotal) for ln in event.receipt.lines] == [
        ("Trail shoe", Decimal("49.98"))
    ]
    assert event.receipt.ship_to == SHIP_TO
    assert order.deadline_at is None


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        (reason, status)
        for reason, states in CANCELLABLE_FROM.items()
        for status in OrderStatus  # in the enum's order: a set's order differs between workers
        if status in states
    ],
)
def test_order_cancel_from_an_allowed_state_emits_order_cancelled_with_its_code(
    reason: CancellationReason, status: OrderStatus
) -> None:
    order = _at(status)
    before = list(order.timeline)

    [event] = order.cancel(reason, LATER, detail="why")

    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, reason)
    assert order.timeline == [*before, TimelineEntry(OrderStatus.CANCELLED, LATER, reason)]
    assert isinstance(event, OrderCancelledV1)
    assert (event.order_id, event.reason_code, event.cancelled_at) == (order.id, reason, LATER)
    assert event.reason.endswith(": why")
    assert order.deadline_at is None


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        (reason, status)
        for reason, states in CANCELLABLE_FROM.items()
        for status in OrderStatus
        if status not in states
    ],
)
def test_order_cancel_from_another_state_is_refused_and_changes_nothing(
    reason: CancellationReason, status: OrderStatus
) -> None:
    order = _at(status)
    before = (order.status, list(order.timeline), order.cancel_reason)

    with pytest.raises(TransitionNotAllowed, match=f"is {order.status}"):
        order.cancel(reason, LATER)

    assert (order.status, order.timeline, order.cancel_reason) == before


FORWARD_STEPS = {
    "reserve_stock": OrderStatus.PENDING,
    "await_payment": OrderStatus.STOCK_RESERVED,
    "mark_paid": OrderStatus.AWAITING_PAYMENT,
}


@pytest.mark.parametrize(
    ("action", "status"),
    [
        (action, status)
        for action, allowed in FORWARD_STEPS.items()
        for status in OrderStatus
        if status != allowed
    ],
)
def test_order_forward_step_from_the_wrong_state_is_refused(
    action: str, status: OrderStatus
) -> None:
    order = _at(status)
    before = list(order.timeline)
    calls = {
        "reserve_stock": lambda: order.reserve_stock(LATER),
        "await_payment": lambda: order.await_payment(LATER, TIMEOUTS.payment),
        "mark_paid": lambda: order.mark_paid(uuid.uuid4(), LATER),
    }

    with pytest.raises(TransitionNotAllowed) as refused:
        calls[action]()

    assert (refused.value.order_id, refused.value.order_status) == (order.id, status)
    assert refused.value.status == 409
    assert (order.status, order.timeline) == (status, before)


def test_order_request_refund_of_a_cancelled_order_once_per_charge() -> None:
    order = _at(OrderStatus.CANCELLED)
    payment_id = uuid.uuid4()

    [event] = order.request_refund(payment_id, Decimal("49.98"), LATER)
    again = order.request_refund(payment_id, Decimal("49.98"), LATER)

    assert isinstance(event, OrderRefundRequestedV1)
    assert (event.payment_id, event.reason, event.amount) == (
        payment_id,
        RefundReason.ORDER_CANCELLED,
        Decimal("49.98"),
    )
    assert again == []
    assert len(order.refunds) == 1


def test_order_request_refund_of_a_second_charge_of_a_paid_order_is_a_duplicate_charge() -> None:
    order = _at(OrderStatus.PAID)

    [event] = order.request_refund(uuid.uuid4(), Decimal("49.98"), LATER)

    assert isinstance(event, OrderRefundRequestedV1)
    assert event.reason == RefundReason.DUPLICATE_CHARGE


def test_order_request_refund_of_the_charge_that_paid_is_refused() -> None:
    order = _at(OrderStatus.PAID)
    assert order.payment_id is not None

    with pytest.raises(TransitionNotAllowed, match="refund"):
        order.request_refund(order.payment_id, Decimal("49.98"), LATER)


@pytest.mark.parametrize("status", [status for status in OrderStatus if status not in TERMINAL])
def test_order_request_refund_before_the_order_is_final_is_refused(status: OrderStatus) -> None:
    order = _at(status)

    with pytest.raises(TransitionNotAllowed, match="refund"):
        order.request_refund(uuid.uuid4(), Decimal("49.98"), LATER)

    assert order.refunds == []
