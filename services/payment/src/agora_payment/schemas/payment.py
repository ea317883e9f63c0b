"""How the admin API shows payments and their refunds."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from pydantic import BaseModel, ConfigDict


class RefundRead(BaseModel):
    """A payment's refund.

    Attributes:
        id: The refund's id (``refund_id`` in ``payment.refunded``).
        amount: What is (to be) given back.
        currency: ISO 4217 code of ``amount``.
        status: ``pending`` or ``succeeded``.
        provider_refund_id: The provider's id of the refund (``re_...``), once made.
        attempts: Refund requests sent to the provider.
        refunded_at: When the provider confirmed it.
    """

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    amount: Decimal
    currency: str
    status: str
    provider_refund_id: str | None
    attempts: int
    refunded_at: dt.datetime | None


class PaymentRead(BaseModel):
    """A payment as the admin API shows it.

    Attributes:
        id: The payment's id.
        order_id: The order charged (one payment per order).
        buyer_id: Who placed the order.
        amount: What is charged.
        currency: ISO 4217 code of ``amount``.
        status: ``pending``, ``succeeded``, ``failed`` or ``refunded``.
        failure_reason: Why it failed (``card_declined``, ``insufficient_funds``,
            ``invalid_token``, ``provider_unavailable``).
        failure_detail: The provider's message, for people.
        provider_charge_id: The provider's id of the charge (``ch_...``).
        charge_in_doubt: A charge request's answer was lost; the provider will be asked again.
        attempts: Charge requests sent to the provider.
        settled_at: When the charge succeeded or failed.
        created_at: When the order first asked for payment.
        updated_at: Last change.
        refund: The refund, if ordering asked for one.
    """

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    order_id: uuid.UUID
    buyer_id: uuid.UUID
    amount: Decimal
    currency: str
    status: str
    failure_reason: str | None
    failure_detail: str | None
    provider_charge_id: str | None
    charge_in_doubt: bool
    attempts: int
    settled_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    refund: RefundRead | None
