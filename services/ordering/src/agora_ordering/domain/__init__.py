"""The ordering domain: the Order aggregate and the checkout saga's reply handling, pure Python.

No database, web framework or broker here (import-linter keeps it so): the service loads an
order, calls one of these functions in the consumer's or request's transaction, and writes the
returned events to its outbox in that transaction. ``docs/design/checkout-saga.md`` has the
whole saga.
"""

from agora_ordering.domain.errors import InvalidOrder, TransitionNotAllowed, UnexpectedReply
from agora_ordering.domain.order import (
    CANCELLABLE_FROM,
    TERMINAL,
    Line,
    Order,
    OrderStatus,
    Refund,
    RefundStatus,
    Step,
    TimelineEntry,
)
from agora_ordering.domain.saga import (
    Effect,
    Reaction,
    SagaTimeouts,
    cancel_by_customer,
    on_deadline,
    on_payment_failed,
    on_payment_refunded,
    on_payment_succeeded,
    on_stock_rejected,
    on_stock_reserved,
)

__all__ = [
    "CANCELLABLE_FROM",
    "TERMINAL",
    "Effect",
    "InvalidOrder",
    "Line",
    "Order",
    "OrderStatus",
    "Reaction",
    "Refund",
    "RefundStatus",
    "SagaTimeouts",
    "Step",
    "TimelineEntry",
    "TransitionNotAllowed",
    "UnexpectedReply",
    "cancel_by_customer",
    "on_deadline",
    "on_payment_failed",
    "on_payment_refunded",
    "on_payment_succeeded",
    "on_stock_rejected",
    "on_stock_reserved",
]
