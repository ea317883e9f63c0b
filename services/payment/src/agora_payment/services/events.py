"""The events payment publishes, built from its rows (written to the outbox by the use cases)."""

from __future__ import annotations

import datetime as dt

from agora_chassis.outbox import build_event
from agora_contracts.envelope import CloudEvent
from agora_contracts.payment import (
    PaymentFailedV1,
    PaymentFailureReason,
    PaymentRefundedV1,
    PaymentSucceededV1,
)
from agora_payment.models import Payment, Refund

SOURCE = "/agora/payment"


def succeeded(payment: Payment, charge_id: str, at: dt.datetime) -> CloudEvent:
    """``payment.succeeded`` for the payment's charge (its subject: the order)."""
    payload = PaymentSucceededV1(
        order_id=payment.order_id,
        payment_id=payment.id,
        provider_charge_id=charge_id,
        amount=payment.amount,
        currency=payment.currency,
        succeeded_at=at,
    )
    return build_event(payload, source=SOURCE, subject=str(payment.order_id))


def failed(
    payment: Payment, reason: PaymentFailureReason, detail: str | None, at: dt.datetime
) -> CloudEvent:
    """``payment.failed``: the order cannot be charged, for good."""
    payload = PaymentFailedV1(
        order_id=payment.order_id,
        payment_id=payment.id,
        reason=reason,
        failed_at=at,
        detail=detail,
    )
    return build_event(payload, source=SOURCE, subject=str(payment.order_id))


def refunded(
    payment: Payment, refund: Refund, provider_refund_id: str, at: dt.datetime
) -> CloudEvent:
    """``payment.refunded``: the payment's charge was given back."""
    payload = PaymentRefundedV1(
        order_id=payment.order_id,
        payment_id=payment.id,
        refund_id=refund.id,
        provider_refund_id=provider_refund_id,
        amount=refund.amount,
        currency=refund.currency,
        refunded_at=at,
    )
    return build_event(payload, source=SOURCE, subject=str(payment.order_id))
