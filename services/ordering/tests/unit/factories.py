"""Test data for the ordering domain: orders at each step and the replies other services send."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from agora_contracts.catalog import ShortLine, StockRejectedV1, StockReservedV1
from agora_contracts.ordering import OrderLine, ShippingAddress
from agora_contracts.payment import (
    PaymentFailedV1,
    PaymentFailureReason,
    PaymentRefundedV1,
    PaymentSucceededV1,
)
from agora_ordering.domain import Line, Order, SagaTimeouts, on_stock_reserved

T0 = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
TIMEOUTS = SagaTimeouts()
PRICE = Decimal("24.99")
SHIP_TO = ShippingAddress(
    name="Ada Lovelace",
    street="12 Analytical Row",
    postal_code="10115",
    city="Berlin",
    country="DE",
)


def place(order_id: uuid.UUID | None = None, now: dt.datetime = T0) -> Order:
    """A PENDING order of two units at 24.99 EUR (total 49.98)."""
    order, _ = Order.place(
        order_id=order_id or uuid.uuid4(),
        buyer_id=uuid.uuid4(),
        lines=[Line(uuid.uuid4(), 2, PRICE, "Trail shoe")],
        currency="EUR",
        payment_token="tok_test",
        ship_to=SHIP_TO,
        now=now,
        stock_timeout=TIMEOUTS.stock,
    )
    return order


def awaiting_payment(now: dt.datetime = T0) -> Order:
    """An order whose stock is reserved and whose payment was requested at ``now``."""
    order = place(now=now)
    on_stock_reserved(order, reserved(order), now, TIMEOUTS)
    return order


def reserved(order: Order) -> StockReservedV1:
    """Catalog's ``stock.reserved`` for ``order``."""
    lines = [OrderLine(product_id=ln.product_id, quantity=ln.quantity) for ln in order.lines]
    return StockReservedV1(order_id=order.id, lines=lines, reserved_at=T0)


def rejected(order: Order) -> StockRejectedV1:
    """Catalog's ``stock.rejected`` for ``order`` (its first line is short)."""
    line = order.lines[0]
    short = ShortLine(product_id=line.product_id, requested=line.quantity, available=0)
    return StockRejectedV1(order_id=order.id, short=[short], rejected_at=T0)


def succeeded(order: Order, payment_id: uuid.UUID | None = None) -> PaymentSucceededV1:
    """Payment's ``payment.succeeded`` for ``order`` (a new charge unless ``payment_id``)."""
    return PaymentSucceededV1(
        order_id=order.id,
        payment_id=payment_id or uuid.uuid4(),
        provider_charge_id="ch_test",
        amount=order.total,
        currency=order.currency,
        succeeded_at=T0,
    )


def failed(
    order: Order, reason: PaymentFailureReason = PaymentFailureReason.CARD_DECLINED
) -> PaymentFailedV1:
    """Payment's ``payment.failed`` for ``order``."""
    return PaymentFailedV1(order_id=order.id, payment_id=uuid.uuid4(), reason=reason, failed_at=T0)


def refunded(order: Order, payment_id: uuid.UUID) -> PaymentRefundedV1:
    """Payment's ``payment.refunded`` for the charge ``payment_id`` of ``order``."""
    return PaymentRefundedV1(
        order_id=order.id,
        payment_id=payment_id,
        refund_id=uuid.uuid4(),
        provider_refund_id="re_test",
        amount=order.total,
        currency=order.currency,
        refunded_at=T0,
    )
