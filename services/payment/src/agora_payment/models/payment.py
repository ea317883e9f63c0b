"""One charge per order at the payment provider, and the refund of it, if ordering asks."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agora_chassis.db import Timestamps, UUIDPrimaryKey
from agora_payment.models.base import Base

AMOUNT_PRECISION = 12
AMOUNT_SCALE = 2
CURRENCY_LENGTH = 3
STATUS_LENGTH = 16
REASON_LENGTH = 32
DETAIL_LENGTH = 200
PROVIDER_ID_LENGTH = 100


class PaymentStatus(StrEnum):
    """Where a payment stands; every status but ``pending`` is final for the charge."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


class RefundStatus(StrEnum):
    """Where a refund stands."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"


class Payment(UUIDPrimaryKey, Timestamps, Base):
    """The charge of one order (``order_id`` is unique: the provider's idempotency key too).

    ``charge_in_doubt`` is set when a charge request may have reached the provider but its answer
    was lost (a timeout): only the provider, asked again with the same key, can say whether the
    card was charged, so such a payment never fails for want of an answer.
    """

    __tablename__ = "payments"

    order_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    buyer_id: Mapped[uuid.UUID]
    amount: Mapped[Decimal] = mapped_column(Numeric(AMOUNT_PRECISION, AMOUNT_SCALE))
    currency: Mapped[str] = mapped_column(String(CURRENCY_LENGTH))
    status: Mapped[str] = mapped_column(String(STATUS_LENGTH), index=True)
    failure_reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH))
    failure_detail: Mapped[str | None] = mapped_column(String(DETAIL_LENGTH))
    provider_charge_id: Mapped[str | None] = mapped_column(String(PROVIDER_ID_LENGTH))
    charge_in_doubt: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    settled_at: Mapped[dt.datetime | None]
    refund: Mapped[Refund | None] = relationship(lazy="selectin", back_populates="payment")


class Refund(UUIDPrimaryKey, Timestamps, Base):
    """The refund of a payment's whole charge (one per payment: the provider's key is its id)."""

    __tablename__ = "refunds"

    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id"), unique=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(AMOUNT_PRECISION, AMOUNT_SCALE))
    currency: Mapped[str] = mapped_column(String(CURRENCY_LENGTH))
    status: Mapped[str] = mapped_column(String(STATUS_LENGTH))
    provider_refund_id: Mapped[str | None] = mapped_column(String(PROVIDER_ID_LENGTH))
    attempts: Mapped[int] = mapped_column(default=0)
    refunded_at: Mapped[dt.datetime | None]
    payment: Mapped[Payment] = relationship(lazy="raise", back_populates="refund")
