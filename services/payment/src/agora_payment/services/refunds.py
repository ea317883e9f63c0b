"""Refunding a charge when ordering asks (``order.refund_requested``): once per payment.

The provider's idempotency key is the payment id, so a repeated request (a redelivery, a lost
answer, a second ask) refunds once. Like a charge, the refund waits while the provider is down
(:class:`~agora_chassis.messaging.Postpone`); unlike a charge it has no deadline: money owed back
is owed until it is given back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.db import utcnow
from agora_chassis.messaging import Postpone
from agora_contracts.ordering import OrderRefundRequestedV1
from agora_payment.models import PaymentStatus, RefundStatus
from agora_payment.repositories.payments import PaymentRepository
from agora_payment.services import events
from agora_payment.services.charges import Clock
from agora_payment.services.errors import NotRefundable, PaymentNotFound
from agora_payment.services.outcomes import Unavailable
from agora_payment.services.provider import PaymentProvider

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefundStart:
    """What to ask the provider for (``None`` from ``_start``: refunded before)."""

    charge_id: str
    amount: Decimal


class RefundService:
    """Refunds payments' charges at the provider and publishes ``payment.refunded``.

    Args:
        sessionmaker: Opens the bookkeeping transactions.
        payments: Builds a transaction's payment repository (given by the wiring).
        provider: The payment provider.
        clock: The current UTC time (fixed in tests).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        payments: Callable[[AsyncSession], PaymentRepository],
        provider: PaymentProvider,
        clock: Clock = utcnow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.payments = payments
        self.provider = provider
        self.clock = clock

    async def refund(self, session: AsyncSession, request: OrderRefundRequestedV1) -> None:
        """Handle ``order.refund_requested``: refund the payment's whole charge once.

        Args:
            session: The consumer's transaction (the outcome and its event are written in it).
            request: Which payment to refund.

        Raises:
            Postpone: The provider is unavailable; the message comes back later.
            PaymentNotFound: No such payment (dead-lettered).
            NotRefundable: The payment holds no charge, or belongs to another order.
            ProviderRefused: The provider refused the refund (dead-lettered).
        """
        start = await self._start(request)
        if start is None:
            logger.info("payment %s was refunded before: nothing to do", request.payment_id)
            return
        outcome = await self.provider.refund(
            payment_id=request.payment_id, charge_id=start.charge_id, amount=start.amount
        )
        if isinstance(outcome, Unavailable):
            raise Postpone(f"payment provider unavailable: {outcome.detail}")
        await self._settle(session, request.payment_id, outcome.refund_id)

    async def _start(self, request: OrderRefundRequestedV1) -> RefundStart | None:
        """Check the payment can be refunded; record the refund and count the call."""
        async with self.sessionmaker() as session, session.begin():
            payments = self.payments(session)
            payment = await payments.locked(request.payment_id)
            if payment is None:
                raise PaymentNotFound(request.payment_id)
            if payment.order_id != request.order_id:
                raise NotRefundable(payment.id, f"it pays order {payment.order_id}")
            if payment.status == PaymentStatus.REFUNDED:
                return None
            if payment.status != PaymentStatus.SUCCEEDED or payment.provider_charge_id is None:
                raise NotRefundable(payment.id, f"it is {payment.status}")
            refund = await payments.claim_refund(payment)
            refund.attempts += 1
            return RefundStart(payment.provider_charge_id, refund.amount)

    async def _settle(
        self, session: AsyncSession, payment_id: uuid.UUID, provider_refund_id: str
    ) -> None:
        """Mark the payment refunded and write ``payment.refunded``, unless done already."""
        payments = self.payments(session)
        payment = await payments.locked(payment_id)
        if payment is None or payment.status == PaymentStatus.REFUNDED or payment.refund is None:
            return
        now = self.clock()
        payment.status = PaymentStatus.REFUNDED.value
        refund = payment.refund
        refund.status = RefundStatus.SUCCEEDED.value
        refund.provider_refund_id = provider_refund_id
        refund.refunded_at = now
        payments.add_event(events.refunded(payment, refund, provider_refund_id, now))
        logger.info("payment %s refunded (refund %s)", payment_id, refund.id)
