"""The Order aggregate: its states, one method per transition, and the events each one emits.

Plain Python, shaped like the table it will be mapped to (flat fields, lists for the timeline and
refunds). Every transition checks the state it starts from, appends a timeline entry and returns
the event payloads to write to the outbox in the same transaction; a refused transition raises
:class:`TransitionNotAllowed` and changes nothing. PAID and CANCELLED are final.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from agora_contracts.envelope import EventPayload
from agora_contracts.ordering import (
    REASON_MAX,
    CancellationReason,
    OrderAwaitingPaymentV1,
    OrderCancelledV1,
    OrderLine,
    OrderPaidV1,
    OrderPlacedV1,
    OrderReceipt,
    OrderRefundRequestedV1,
    ReceiptLine,
    RefundReason,
    ShippingAddress,
)
from agora_ordering.domain.errors import InvalidOrder, TransitionNotAllowed

CENT = Decimal("0.01")


class OrderStatus(StrEnum):
    """Where an order is in the checkout saga."""

    PENDING = "pending"
    """Placed; waiting for catalog to reserve the stock."""
    STOCK_RESERVED = "stock_reserved"
    """Every line is reserved (moves on to AWAITING_PAYMENT in the same transaction)."""
    AWAITING_PAYMENT = "awaiting_payment"
    """Payment was asked to charge the order."""
    PAID = "paid"
    """Charged; the reservation is sold. Final."""
    CANCELLED = "cancelled"
    """Given up, with a reason; the reservation is released. Final."""


TERMINAL = frozenset({OrderStatus.PAID, OrderStatus.CANCELLED})
BEFORE_PAID = frozenset(
    {OrderStatus.PENDING, OrderStatus.STOCK_RESERVED, OrderStatus.AWAITING_PAYMENT}
)

CANCELLABLE_FROM: dict[CancellationReason, frozenset[OrderStatus]] = {
    CancellationReason.OUT_OF_STOCK: frozenset({OrderStatus.PENDING}),
    CancellationReason.PAYMENT_DECLINED: frozenset({OrderStatus.AWAITING_PAYMENT}),
    CancellationReason.TIMED_OUT: BEFORE_PAID,
    CancellationReason.CANCELLED_BY_CUSTOMER: BEFORE_PAID,
}
"""From which states each reason may cancel an order."""

REASON_TEXT: dict[CancellationReason, str] = {
    CancellationReason.OUT_OF_STOCK: "out of stock",
    CancellationReason.PAYMENT_DECLINED: "payment declined",
    CancellationReason.TIMED_OUT: "timed out",
    CancellationReason.CANCELLED_BY_CUSTOMER: "cancelled by customer",
}


class Step(StrEnum):
    """A saga step ordering waits on, each with its own deadline."""

    STOCK = "stock"
    PAYMENT = "payment"


class RefundStatus(StrEnum):
    """Where a refund ordering asked for stands."""

    REQUESTED = "requested"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class Line:
    """One line of an order, priced by catalog when the order was placed.

    Attributes:
        product_id: The catalog product.
        quantity: Units ordered.
        unit_price: Catalog's price per unit at order time.
        name: Catalog's name of the product at order time (for the order page and e-mails).
    """

    product_id: uuid.UUID
    quantity: int
    unit_price: Decimal
    name: str

    @property
    def subtotal(self) -> Decimal:
        """Quantity times unit price."""
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class TimelineEntry:
    """One transition, as the customer's order page shows it.

    Attributes:
        status: The state entered.
        at: When (UTC).
        reason: Why, for a cancellation.
    """

    status: OrderStatus
    at: dt.datetime
    reason: CancellationReason | None = None


@dataclass
class Refund:
    """A charge ordering cannot keep, and whether payment gave it back yet.

    Attributes:
        payment_id: Payment's id of the charge.
        amount: The charge's amount.
        currency: Its currency.
        reason: Why it is refunded.
        status: Requested, or refunded.
        requested_at: When ordering asked.
    """

    payment_id: uuid.UUID
    amount: Decimal
    currency: str
    reason: RefundReason
    status: RefundStatus
    requested_at: dt.datetime


@dataclass
class Order:
    """An order and its place in the checkout saga.

    Build one with :meth:`place`. Attributes other than the identity and the lines change only
    through the transition methods.

    Attributes:
        id: The order id (uuid7); also the payment provider's idempotency key.
        buyer_id: Who placed it.
        lines: What was ordered, priced at order time.
        currency: ISO 4217 code of every price.
        payment_token: The provider's card token, passed on to payment.
        placed_at: When it was placed.
        ship_to: Where it goes.
        status: Where it is in the saga.
        cancel_reason: Why it was cancelled (CANCELLED only).
        deadline_step: The step ordering waits on (None when nothing is awaited).
        deadline_at: When that step times out; the durable scheduler polls this.
        payment_id: The charge that paid the order (PAID only).
        timeline: Every state entered, oldest first; it only grows.
        refunds: Charges ordering asked payment to give back.
    """

    id: uuid.UUID
    buyer_id: uuid.UUID
    lines: list[Line]
    currency: str
    payment_token: str
    placed_at: dt.datetime
    ship_to: ShippingAddress
    status: OrderStatus = OrderStatus.PENDING
    cancel_reason: CancellationReason | None = None
    deadline_step: Step | None = None
    deadline_at: dt.datetime | None = None
    payment_id: uuid.UUID | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)

    @classmethod
    def place(
        cls,
        *,
        order_id: uuid.UUID,
        buyer_id: uuid.UUID,
        lines: Iterable[Line],
        currency: str,
        payment_token: str,
        ship_to: ShippingAddress,
        now: dt.datetime,
        stock_timeout: dt.timedelta,
    ) -> tuple[Order, list[EventPayload]]:
        """A new PENDING order, waiting for catalog's answer until ``now + stock_timeout``.

        Returns:
            The order and its ``order.placed`` event.

        Raises:
            InvalidOrder: No lines, a product listed twice, or a price that is not positive.
        """
        lines = list(lines)
        _check_lines(lines)
        order = cls(
            id=order_id,
            buyer_id=buyer_id,
            lines=lines,
            currency=currency,
            payment_token=payment_token,
            placed_at=now,
            ship_to=ship_to,
        )
        order.timeline.append(TimelineEntry(OrderStatus.PENDING, now))
        order._wait_for(Step.STOCK, now + stock_timeout)
        placed = OrderPlacedV1(
            order_id=order.id,
            buyer_id=buyer_id,
            lines=[OrderLine(product_id=ln.product_id, quantity=ln.quantity) for ln in lines],
            placed_at=now,
        )
        return order, [placed]

    @property
    def total(self) -> Decimal:
        """What the order costs, rounded to cents."""
        return sum((line.subtotal for line in self.lines), Decimal(0)).quantize(CENT)

    @property
    def is_terminal(self) -> bool:
        """Whether the order is PAID or CANCELLED (final)."""
        return self.status in TERMINAL

    def reserve_stock(self, now: dt.datetime) -> list[EventPayload]:
        """PENDING → STOCK_RESERVED: catalog reserved every line. Emits nothing."""
        self._require("reserve_stock", {OrderStatus.PENDING})
        self._enter(OrderStatus.STOCK_RESERVED, now)
        return []

    def await_payment(self, now: dt.datetime, payment_timeout: dt.timedelta) -> list[EventPayload]:
        """STOCK_RESERVED → AWAITING_PAYMENT: asks payment to charge, by ``now + timeout``."""
        self._require("await_payment", {OrderStatus.STOCK_RESERVED})
        self._enter(OrderStatus.AWAITING_PAYMENT, now)
        deadline = now + payment_timeout
        self._wait_for(Step.PAYMENT, deadline)
        return [
            OrderAwaitingPaymentV1(
                order_id=self.id,
                buyer_id=self.buyer_id,
                amount=self.total,
                currency=self.currency,
                payment_token=self.payment_token,
                deadline=deadline,
                requested_at=now,
            )
        ]

    def mark_paid(self, payment_id: uuid.UUID, now: dt.datetime) -> list[EventPayload]:
        """AWAITING_PAYMENT → PAID by the charge ``payment_id``; catalog sells the reservation."""
        self._require("mark_paid", {OrderStatus.AWAITING_PAYMENT})
        self._enter(OrderStatus.PAID, now)
        self.payment_id = payment_id
        return [OrderPaidV1(order_id=self.id, paid_at=now, receipt=self.receipt())]

    def cancel(
        self, reason: CancellationReason, now: dt.datetime, detail: str | None = None
    ) -> list[EventPayload]:
        """→ CANCELLED for ``reason``, from the states that reason allows (``CANCELLABLE_FROM``).

        Catalog releases the reservation on the emitted ``order.cancelled`` (or, when the order
        never reached it, remembers the order so a late ``order.placed`` reserves nothing).

        Args:
            reason: Why.
            now: When.
            detail: More words for people, appended to the reason's text.
        """
        self._require(f"cancel ({reason})", CANCELLABLE_FROM[reason])
        self._enter(OrderStatus.CANCELLED, now, reason)
        self.cancel_reason = reason
        text = REASON_TEXT[reason] + (f": {detail}" if detail else "")
        cancelled = OrderCancelledV1(
            order_id=self.id,
            reason=text[:REASON_MAX],
            cancelled_at=now,
            reason_code=reason,
            receipt=self.receipt(),
        )
        return [cancelled]

    def request_refund(
        self,
        payment_id: uuid.UUID,
        amount: Decimal,
        now: dt.datetime,
    ) -> list[EventPayload]:
        """Ask payment to give back a charge the order cannot keep; once per charge.

        A cancelled order keeps no charge; a paid one keeps only the charge that paid it.

        Returns:
            ``order.refund_requested``, or nothing when this charge's refund was asked for before.

        Raises:
            TransitionNotAllowed: The order is not final yet, or this is the charge that paid it.
        """
        if self.status not in TERMINAL or payment_id == self.payment_id:
            raise TransitionNotAllowed(self.id, self.status, f"refund of {payment_id}")
        if self.refund_for(payment_id) is not None:
            return []
        reason = (
            RefundReason.ORDER_CANCELLED
            if self.status == OrderStatus.CANCELLED
            else RefundReason.DUPLICATE_CHARGE
        )
        refund = Refund(payment_id, amount, self.currency, reason, RefundStatus.REQUESTED, now)
        self.refunds.append(refund)
        return [
            OrderRefundRequestedV1(
                order_id=self.id,
                payment_id=payment_id,
                amount=amount,
                currency=self.currency,
                reason=reason,
                requested_at=now,
            )
        ]

    def receipt(self) -> OrderReceipt:
        """What the order holds, as its final event carries it to the customer's e-mail."""
        lines = [
            ReceiptLine(
                product_id=line.product_id,
                name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                subtotal=line.subtotal.quantize(CENT),
            )
            for line in self.lines
        ]
        return OrderReceipt(
            buyer_id=self.buyer_id,
            lines=lines,
            total=self.total,
            currency=self.currency,
            ship_to=self.ship_to,
        )

    def refund_for(self, payment_id: uuid.UUID) -> Refund | None:
        """The refund asked for the charge ``payment_id``, if any."""
        return next((r for r in self.refunds if r.payment_id == payment_id), None)

    def _require(self, action: str, allowed: frozenset[OrderStatus] | set[OrderStatus]) -> None:
        if self.status not in allowed:
            raise TransitionNotAllowed(self.id, self.status, action)

    def _enter(
        self, status: OrderStatus, now: dt.datetime, reason: CancellationReason | None = None
    ) -> None:
        self.status = status
        self.timeline.append(TimelineEntry(status, now, reason))
        self._wait_for(None, None)

    def _wait_for(self, step: Step | None, deadline: dt.datetime | None) -> None:
        self.deadline_step = step
        self.deadline_at = deadline


def _check_lines(lines: list[Line]) -> None:
    if not lines:
        raise InvalidOrder("an order needs at least one line")
    if len({line.product_id for line in lines}) != len(lines):
        raise InvalidOrder("each product may appear on one line only")
    if any(line.unit_price <= 0 or line.quantity < 1 for line in lines):
        raise InvalidOrder("every line needs a positive quantity and price")
