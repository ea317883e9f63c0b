"""Builds payment's use cases for the event consumer (with ``api.deps`` and ``main``, the only
modules that build repositories: ``events/`` calls services and never sees SQL)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_payment.repositories.payments import PaymentRepository
from agora_payment.services.charges import ChargeService
from agora_payment.services.provider import PaymentProvider
from agora_payment.services.refunds import RefundService


@dataclass(frozen=True)
class PaymentUseCases:
    """What the consumer's handlers call.

    Attributes:
        charges: Charges orders (``order.awaiting_payment``).
        refunds: Refunds charges (``order.refund_requested``).
    """

    charges: ChargeService
    refunds: RefundService


def payment_use_cases(
    sessionmaker: async_sessionmaker[AsyncSession], provider: PaymentProvider
) -> PaymentUseCases:
    """The charge and refund use cases over ``provider`` (built once, with the app)."""
    return PaymentUseCases(
        charges=ChargeService(sessionmaker, PaymentRepository, provider),
        refunds=RefundService(sessionmaker, PaymentRepository, provider),
    )
