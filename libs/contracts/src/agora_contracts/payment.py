"""Events published by the payment service (consumed by ordering).

Defined ahead of the payment service so the ordering saga can be built and tested against them.
The checkout saga's messages are listed in ``docs/design/checkout-saga.md``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from agora_contracts.envelope import EventPayload
from agora_contracts.money import Amount, Currency

PROVIDER_ID_MAX = 100
DETAIL_MAX = 200

_ORDER_ID = "01936d3c-9a10-7d2e-8f00-1a2b3c4d5e6f"
_PAYMENT_ID = "01936d3c-a100-7b3c-9d4e-5f6a7b8c9d0e"
_REFUND_ID = "01936d3c-b200-7c4d-8e5f-6a7b8c9d0e1f"


class PaymentFailureReason(StrEnum):
    """Why a charge failed for good (``PaymentFailedV1.reason``)."""

    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - a reason code, not a secret
    """The payment token is unknown, expired or used up."""
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    """The provider did not answer before the order's payment deadline."""


class PaymentSucceededV1(EventPayload):
    """An order was charged; ordering marks it paid (or asks for a refund if it is cancelled).

    Attributes:
        order_id: The order charged.
        payment_id: Payment's id of this charge (named in a refund request).
        provider_charge_id: The provider's id of the charge (``ch_...``).
        amount: What was charged, two decimal places.
        currency: ISO 4217 code of ``amount``.
        succeeded_at: When (UTC).
    """

    event_type: ClassVar[str] = "payment.succeeded"
    version: ClassVar[int] = 1

    order_id: uuid.UUID
    payment_id: uuid.UUID
    provider_charge_id: str = Field(min_length=1, max_length=PROVIDER_ID_MAX)
    amount: Amount
    currency: Currency
    succeeded_at: dt.datetime

    model_config = EventPayload.model_config | {
        "json_schema_extra": {
            "examples": [
                {
                    "order_id": _ORDER_ID,
                    "payment_id": _PAYMENT_ID,
                    "provider_charge_id": "ch_3f9a1b2c4d5e6f70",
                    "amount": "49.98",
                    "currency": "EUR",
                    "succeeded_at": "2026-11-23T09:30:03Z",
                }
            ]
        }
    }


class PaymentFailedV1(EventPayload):
    """An order could not be charged, for good (never sent for a failure a retry may fix).

    Attributes:
        order_id: The order.
        payment_id: Payment's id of the attempt.
        reason: Why, for machines.
        failed_at: When (UTC).
        detail: Why, for people (the provider's message; no card data).
    """

    event_type: ClassVar[str] = "payment.failed"
    version: ClassVar[int] = 1

    order_id: uuid.UUID
    payment_id: uuid.UUID
    reason: PaymentFailureReason
    failed_at: dt.datetime
    detail: str | None = Field(default=None, max_length=DETAIL_MAX)

    model_config = EventPayload.model_config | {
        "json_schema_extra": {
            "examples": [
                {
                    "order_id": _ORDER_ID,
                    "payment_id": _PAYMENT_ID,
                    "reason": "card_declined",
                    "failed_at": "2026-11-23T09:30:03Z",
                    "detail": "Your card was declined.",
                },
                {
                    "order_id": _ORDER_ID,
                    "payment_id": _PAYMENT_ID,
                    "reason": "insufficient_funds",
                    "failed_at": "2026-11-23T09:30:03Z",
                },
            ]
        }
    }


class PaymentRefundedV1(EventPayload):
    """A charge was refunded, as ordering asked (``order.refund_requested``).

    Attributes:
        order_id: The order the charge was for.
        payment_id: Payment's id of the refunded charge.
        refund_id: Payment's id of the refund.
        provider_refund_id: The provider's id of the refund (``re_...``).
        amount: What was given back.
        currency: ISO 4217 code of ``amount``.
        refunded_at: When (UTC).
    """

    event_type: ClassVar[str] = "payment.refunded"
    version: ClassVar[int] = 1

    order_id: uuid.UUID
    payment_id: uuid.UUID
    refund_id: uuid.UUID
    provider_refund_id: str = Field(min_length=1, max_length=PROVIDER_ID_MAX)
    amount: Amount
    currency: Currency
    refunded_at: dt.datetime

    model_config = EventPayload.model_config | {
        "json_schema_extra": {
            "examples": [
                {
                    "order_id": _ORDER_ID,
                    "payment_id": _PAYMENT_ID,
                    "refund_id": _REFUND_ID,
                    "provider_refund_id": "re_8e7d6c5b4a392817",
                    "amount": "49.98",
                    "currency": "EUR",
                    "refunded_at": "2026-11-23T09:46:02Z",
                }
            ]
        }
    }
