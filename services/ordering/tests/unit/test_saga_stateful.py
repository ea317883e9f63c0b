"""The checkout saga under random interleavings (Hypothesis stateful test).

A few orders are placed; models of catalog's reservations (the rules of
``agora_catalog.services.reservations``) and of payment (one charge per order: the provider's
idempotency key is the order id) answer what ordering emits. Hypothesis then delivers the
messages in any order, any number of times, fires deadlines (stale ones too), lets customers
cancel, and now and then has the provider charge an order a second time. After every step the
invariants hold; at the end every message is delivered, every deadline fires, and the books are
checked: stock sold exactly for the paid orders and released for the others, one net charge per
paid order and none per cancelled one.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from agora_contracts.catalog import ShortLine, StockRejectedV1, StockReservedV1
from agora_contracts.envelope import EventPayload
from agora_contracts.ordering import (
    OrderAwaitingPaymentV1,
    OrderCancelledV1,
    OrderPaidV1,
    OrderPlacedV1,
    OrderRefundRequestedV1,
)
from agora_contracts.payment import (
    PaymentFailedV1,
    PaymentFailureReason,
    PaymentRefundedV1,
    PaymentSucceededV1,
)
from agora_ordering.domain import (
    TERMINAL,
    Order,
    OrderStatus,
    Step,
    TimelineEntry,
    TransitionNotAllowed,
    cancel_by_customer,
    on_deadline,
    on_payment_failed,
    on_payment_refunded,
    on_payment_succeeded,
    on_stock_rejected,
    on_stock_reserved,
)
from services.ordering.tests.unit.factories import SHIP_TO, T0, TIMEOUTS, place

MAX_ORDERS = 3
PICK = st.integers(min_value=0, max_value=1000)
# Cancels and timeouts end an order; drawn rarely, so orders also get far enough to be paid.
RARE = 3
CHANCE = st.integers(min_value=0, max_value=RARE)
DUPLICATE = CHANCE.map(lambda chance: chance == RARE)
SETTLE_ROUNDS = 20


@dataclass
class Catalog:
    """Catalog's reservation rules: one row per order; a cancel before the placement leaves a
    released row, so the late placement reserves nothing."""

    state: dict[uuid.UUID, str] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def handle(self, event: EventPayload, in_stock: bool) -> list[EventPayload]:
        """Apply one ``order.*`` event; return catalog's answer, if any."""
        order_id: uuid.UUID = getattr(event, "order_id")  # noqa: B009 - every order.* has one
        current = self.state.get(order_id)
        if isinstance(event, OrderPlacedV1) and current is None:
            return self._reserve(event, in_stock)
        if isinstance(event, OrderCancelledV1) and current in {None, "reserved"}:
            self.state[order_id] = "released"
        if isinstance(event, OrderPaidV1) and current != "committed":
            if current != "reserved":
                self.violations.append(f"{order_id} paid while its reservation is {current}")
            self.state[order_id] = "committed"
        return []

    def _reserve(self, event: OrderPlacedV1, in_stock: bool) -> list[EventPayload]:
        if in_stock:
            self.state[event.order_id] = "reserved"
            return [StockReservedV1(order_id=event.order_id, lines=event.lines, reserved_at=T0)]
        self.state[event.order_id] = "rejected"
        short = [
            ShortLine(product_id=ln.product_id, requested=ln.quantity, available=0)
            for ln in event.lines
        ]
        return [StockRejectedV1(order_id=event.order_id, short=short, rejected_at=T0)]


@dataclass
class Payment:
    """Payment with the provider's ledger: the same order is charged once (idempotency key =
    order id) unless the test forces a second charge; a refund is given once per charge."""

    answers: dict[uuid.UUID, EventPayload] = field(default_factory=dict)
    charges: dict[uuid.UUID, list[PaymentSucceededV1]] = field(default_factory=dict)
    refunded: dict[uuid.UUID, PaymentRefundedV1] = field(default_factory=dict)

    def handle(self, event: EventPayload, approve: bool) -> list[EventPayload]:
        """Apply one ``order.awaiting_payment`` or ``order.refund_requested``; return the answer."""
        if isinstance(event, OrderAwaitingPaymentV1):
            if event.order_id not in self.answers:
                self.answers[event.order_id] = self._charge(event, approve)
            return [self.answers[event.order_id]]
        assert isinstance(event, OrderRefundRequestedV1)
        if event.payment_id not in self.refunded:
            self.refunded[event.payment_id] = PaymentRefundedV1(
                order_id=event.order_id,
                payment_id=event.payment_id,
                refund_id=uuid.uuid4(),
                provider_refund_id="re_model",
                amount=event.amount,
                currency=event.currency,
                refunded_at=T0,
            )
        return [self.refunded[event.payment_id]]

    def charge_again(self, order_id: uuid.UUID) -> PaymentSucceededV1:
        """A second charge of an order charged before (a provider or payment bug)."""
        first = self.charges[order_id][0]
        again = first.model_copy(update={"payment_id": uuid.uuid4()})
        self.charges[order_id].append(again)
        return again

    def _charge(self, event: OrderAwaitingPaymentV1, approve: bool) -> EventPayload:
        if not approve:
            reason = PaymentFailureReason.CARD_DECLINED
            return PaymentFailedV1(
                order_id=event.order_id, payment_id=uuid.uuid4(), reason=reason, failed_at=T0
            )
        charge = PaymentSucceededV1(
            order_id=event.order_id,
            payment_id=uuid.uuid4(),
            provider_charge_id="ch_model",
            amount=event.amount,
            currency=event.currency,
            succeeded_at=T0,
        )
        self.charges[event.order_id] = [charge]
        return charge


class CheckoutSaga(RuleBasedStateMachine):
    """Orders, the three services' queues, and the rules that shuffle them."""

    def __init__(self) -> None:
        """Empty queues and books; orders come from :meth:`place_orders`."""
        super().__init__()
        self.now = T0
        self.orders: dict[uuid.UUID, Order] = {}
        self.catalog, self.payment = Catalog(), Payment()
        self.to_catalog: list[EventPayload] = []
        self.to_payment: list[EventPayload] = []
        self.to_ordering: list[EventPayload] = []
        self.emitted: dict[uuid.UUID, list[EventPayload]] = defaultdict(list)
        self.handled_charges: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        self.final: dict[uuid.UUID, OrderStatus] = {}
        self.timelines: dict[uuid.UUID, list[TimelineEntry]] = {}

    def _emit(self, order_id: uuid.UUID, events: Iterable[EventPayload]) -> None:
        for event in events:
            self.emitted[order_id].append(event)
            to_payment = isinstance(event, OrderAwaitingPaymentV1 | OrderRefundRequestedV1)
            (self.to_payment if to_payment else self.to_catalog).append(event)

    def _order(self, pick: int) -> Order:
        return list(self.orders.values())[pick % len(self.orders)]

    @staticmethod
    def _take(queue: list[EventPayload], pick: int, duplicate: bool) -> EventPayload:
        """Any message of the queue (reordering); a duplicate stays for another delivery."""
        index = pick % len(queue)
        return queue[index] if duplicate else queue.pop(index)

    @initialize(count=st.integers(min_value=1, max_value=MAX_ORDERS))
    def place_orders(self, count: int) -> None:
        """Place a few orders (each emits ``order.placed``)."""
        for _ in range(count):
            order, events = Order.place(
                order_id=uuid.uuid4(),
                buyer_id=uuid.uuid4(),
                lines=place().lines,
                currency="EUR",
                payment_token="tok_model",
                ship_to=SHIP_TO,
                now=self.now,
                stock_timeout=TIMEOUTS.stock,
            )
            self.orders[order.id] = order
            self._emit(order.id, events)

    @precondition(lambda self: self.to_catalog)
    @rule(pick=PICK, duplicate=DUPLICATE, in_stock=st.booleans())
    def catalog_handles(self, pick: int, duplicate: bool, in_stock: bool) -> None:
        """Catalog handles any ``order.*`` message it was sent."""
        event = self._take(self.to_catalog, pick, duplicate)
        self.to_ordering += self.catalog.handle(event, in_stock)

    @precondition(lambda self: self.to_payment)
    @rule(pick=PICK, duplicate=DUPLICATE, approve=st.booleans())
    def payment_handles(self, pick: int, duplicate: bool, approve: bool) -> None:
        """Payment handles any charge or refund request it was sent."""
        event = self._take(self.to_payment, pick, duplicate)
        self.to_ordering += self.payment.handle(event, approve)

    @precondition(lambda self: self.to_ordering)
    @rule(pick=PICK, duplicate=DUPLICATE)
    def ordering_handles(self, pick: int, duplicate: bool) -> None:
        """Ordering handles any reply it was sent."""
        self._deliver(self._take(self.to_ordering, pick, duplicate))

    @precondition(lambda self: self.payment.charges)
    @rule(pick=PICK)
    def provider_charges_twice(self, pick: int) -> None:
        """The provider charges an order charged before a second time."""
        charged = list(self.payment.charges)
        self.to_ordering.append(self.payment.charge_again(charged[pick % len(charged)]))

    @rule(pick=PICK, step=st.sampled_from(Step), chance=CHANCE)
    def deadline_fires(self, pick: int, step: Step, chance: int) -> None:
        """The scheduler fires a deadline: now and then the order's own, once passed; else one
        not yet due or of a step the order has left (a no-op)."""
        order = self._order(pick)
        if chance == RARE and order.deadline_at is not None:
            self.now = max(self.now, order.deadline_at)
        self._emit(order.id, on_deadline(order, step, self.now).events)

    @rule(pick=PICK, chance=CHANCE)
    def customer_cancels(self, pick: int, chance: int) -> None:
        """Now and then a customer cancels; refused only once the order is final."""
        if chance != RARE:
            return
        order = self._order(pick)
        try:
            self._emit(order.id, cancel_by_customer(order, self.now).events)
        except TransitionNotAllowed:
            assert order.status in TERMINAL

    def _deliver(self, reply: EventPayload) -> None:
        order: Order = self.orders[getattr(reply, "order_id")]  # noqa: B009 - every reply has one
        if isinstance(reply, StockReservedV1):
            reaction = on_stock_reserved(order, reply, self.now, TIMEOUTS)
        elif isinstance(reply, StockRejectedV1):
            reaction = on_stock_rejected(order, reply, self.now)
        elif isinstance(reply, PaymentSucceededV1):
            self.handled_charges[order.id].add(reply.payment_id)
            reaction = on_payment_succeeded(order, reply, self.now)
        elif isinstance(reply, PaymentFailedV1):
            reaction = on_payment_failed(order, reply, self.now)
        else:
            assert isinstance(reply, PaymentRefundedV1)
            reaction = on_payment_refunded(order, reply)
        self._emit(order.id, reaction.events)

    @invariant()
    def terminal_states_never_change(self) -> None:
        """Once PAID or CANCELLED, always so."""
        for order in self.orders.values():
            if order.id in self.final:
                assert order.status == self.final[order.id], order.timeline
            elif order.is_terminal:
                self.final[order.id] = order.status

    @invariant()
    def timeline_only_grows(self) -> None:
        """Each timeline extends the one seen after the previous step."""
        for order in self.orders.values():
            before = self.timelines.get(order.id, [])
            assert order.timeline[: len(before)] == before
            assert len({entry.status for entry in order.timeline}) == len(order.timeline)
            self.timelines[order.id] = list(order.timeline)

    @invariant()
    def one_charge_kept_and_every_other_refunded(self) -> None:
        """A paid order keeps the one charge that paid it; every other charge ordering heard of
        (all of them, for a cancelled order) has its refund requested."""
        for order in self.orders.values():
            kept = {order.payment_id} if order.status == OrderStatus.PAID else set()
            assert kept <= self.handled_charges[order.id]
            refunds = [refund.payment_id for refund in order.refunds]
            assert len(refunds) == len(set(refunds))
            if order.is_terminal:
                assert set(refunds) == self.handled_charges[order.id] - kept

    @invariant()
    def reservation_sold_or_released_once(self) -> None:
        """A final order emitted exactly one of ``order.paid`` / ``order.cancelled``, matching
        its state; catalog never had to sell a reservation it did not hold."""
        for order in self.orders.values():
            kinds = [type(event) for event in self.emitted[order.id]]
            paid, cancelled = kinds.count(OrderPaidV1), kinds.count(OrderCancelledV1)
            assert paid + cancelled <= 1
            if order.status == OrderStatus.PAID:
                assert paid == 1
            if order.status == OrderStatus.CANCELLED:
                assert cancelled == 1
        assert self.catalog.violations == []

    def teardown(self) -> None:
        """Deliver everything, fire every deadline, and check the books."""
        for _ in range(SETTLE_ROUNDS):
            self._settle_once()
        assert self.to_catalog == self.to_payment == self.to_ordering == []
        for order in self.orders.values():
            assert order.is_terminal, order.timeline
            reservation = self.catalog.state[order.id]
            charges = {c.payment_id for c in self.payment.charges.get(order.id, [])}
            net = charges - set(self.payment.refunded)
            if order.status == OrderStatus.PAID:
                assert (reservation, net) == ("committed", {order.payment_id})
            else:
                assert net == set()
                assert reservation in {"released", "rejected"}

    def _settle_once(self) -> None:
        """Deliver every message in order until all is quiet, then let every deadline pass."""
        while self.to_catalog or self.to_payment or self.to_ordering:
            while self.to_catalog:
                self.to_ordering += self.catalog.handle(self.to_catalog.pop(0), in_stock=True)
            while self.to_payment:
                self.to_ordering += self.payment.handle(self.to_payment.pop(0), approve=True)
            while self.to_ordering:
                self._deliver(self.to_ordering.pop(0))
        self.now += TIMEOUTS.payment + TIMEOUTS.stock
        for order in self.orders.values():
            if order.deadline_step is not None:
                self._emit(order.id, on_deadline(order, order.deadline_step, self.now).events)


CheckoutSaga.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_checkout_saga = CheckoutSaga.TestCase
