"""Charging an order: once per order, final on a decline, patient while the provider is down.

The handler of ``order.awaiting_payment`` runs in the consumer's transaction (which holds the
inbox claim). Around the provider call, short transactions of their own record the try (the
payment row, ``attempts``, ``charge_in_doubt``), so that what was sent is remembered even when
the consumer's transaction rolls back to wait. The outcome (status and its event in the outbox)
is written in the consumer's transaction, under the payment row's lock: two deliveries of one
order settle it once.

* Charged or declined: the payment is settled, ``payment.succeeded`` or ``payment.failed``.
* The provider is unavailable (breaker open, retries spent, a 5xx): the message waits
  (:class:`~agora_chassis.messaging.Postpone`, redelivered later by the broker, never
  dead-lettered for it), and the next try asks again with the same idempotency key.
* The order's deadline passed and no charge can have happened: ``payment.failed``
  (``provider_unavailable``) without calling, since a charge that has not started by then
  should not start. A charge in doubt (sent, answer lost) waits for the provider's answer
  whatever the time: only the provider knows whether the card was charged, and a late success
  is refunded by ordering.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.db import utcnow
from agora_chassis.messaging import Postpone
from agora_contracts.ordering import OrderAwaitingPaymentV1
from agora_contracts.payment import PaymentFailureReason
from agora_payment.models import PaymentStatus
from agora_payment.repositories.payments import PaymentRepository
from agora_payment.services import events
from agora_payment.services.outcomes import Charged, Declined, Unavailable
from agora_payment.services.provider import PaymentProvider

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
DEADLINE_MARGIN_SECONDS = 1.0
"""A message waiting on an outage comes back this long after the order's deadline at the latest."""
TOO_LATE = "The payment deadline passed before the payment provider could be reached."


@dataclass(frozen=True)
class ChargeStart:
    """What the bookkeeping transaction found before the provider call.

    Attributes:
        settled: The payment is final already (a redelivery): nothing to do.
        call: Whether to call the provider now (``False``: too late to start a charge).
        in_doubt: An earlier request may have charged the card.
    """

    settled: bool
    call: bool
    in_doubt: bool


class ChargeService:
    """Charges orders at the provider and publishes the outcome.

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

    async def charge(self, session: AsyncSession, order: OrderAwaitingPaymentV1) -> None:
        """Handle ``order.awaiting_payment``: charge the order once and publish the outcome.

        Args:
            session: The consumer's transaction (the outcome and its event are written in it).
            order: The order to charge.

        Raises:
            Postpone: The provider is unavailable; the message comes back later.
            ProviderRefused: The provider refused the request as malformed (dead-lettered).
        """
        start = await self._start(order)
        if start.settled:
            logger.info("order %s was charged or failed before: nothing to do", order.order_id)
            return
        if not start.call:
            failure = Declined(PaymentFailureReason.PROVIDER_UNAVAILABLE, TOO_LATE)
            await self._settle(session, order.order_id, failure)
            return
        outcome = await self.provider.charge(
            order_id=order.order_id,
            token=order.payment_token,
            amount=order.amount,
            currency=order.currency,
        )
        if isinstance(outcome, Unavailable):
            await self._unavailable(session, order, outcome, in_doubt=start.in_doubt)
            return
        await self._settle(session, order.order_id, outcome)

    async def _start(self, order: OrderAwaitingPaymentV1) -> ChargeStart:
        """Create or find the order's payment; count the call about to be made."""
        async with self.sessionmaker() as session, session.begin():
            payment = await self.payments(session).claim_charge(
                order_id=order.order_id,
                buyer_id=order.buyer_id,
                amount=order.amount,
                currency=order.currency,
            )
            if payment.status != PaymentStatus.PENDING:
                return ChargeStart(settled=True, call=False, in_doubt=False)
            call = payment.charge_in_doubt or self.clock() < order.deadline
            if call:
                payment.attempts += 1
            return ChargeStart(settled=False, call=call, in_doubt=payment.charge_in_doubt)

    async def _unavailable(
        self,
        session: AsyncSession,
        order: OrderAwaitingPaymentV1,
        outcome: Unavailable,
        *,
        in_doubt: bool,
    ) -> None:
        """Wait for the provider, or fail the payment if its deadline passed with no charge."""
        if outcome.in_doubt and not in_doubt:
            await self._mark_in_doubt(order.order_id)
        left = (order.deadline - self.clock()).total_seconds()
        if left <= 0 and not (in_doubt or outcome.in_doubt):
            failure = Declined(PaymentFailureReason.PROVIDER_UNAVAILABLE, TOO_LATE)
            await self._settle(session, order.order_id, failure)
            return
        max_delay = left + DEADLINE_MARGIN_SECONDS if left > 0 else None
        raise Postpone(f"payment provider unavailable: {outcome.detail}", max_delay=max_delay)

    async def _mark_in_doubt(self, order_id: uuid.UUID) -> None:
        async with self.sessionmaker() as session, session.begin():
            payment = await self.payments(session).for_order(order_id)
            if payment is not None:
                payment.charge_in_doubt = True

    async def _settle(
        self, session: AsyncSession, order_id: uuid.UUID, outcome: Charged | Declined
    ) -> None:
        """Make the payment final and write its event, unless another delivery did."""
        payments = self.payments(session)
        payment = await payments.for_order(order_id)
        if payment is None or payment.status != PaymentStatus.PENDING:
            return
        now = self.clock()
        payment.settled_at = now
        payment.charge_in_doubt = False
        if isinstance(outcome, Charged):
            payment.status = PaymentStatus.SUCCEEDED.value
            payment.provider_charge_id = outcome.charge_id
            payments.add_event(events.succeeded(payment, outcome.charge_id, now))
            logger.info("order %s charged (payment %s)", order_id, payment.id)
            return
        payment.status = PaymentStatus.FAILED.value
        payment.failure_reason = outcome.reason.value
        payment.failure_detail = outcome.detail
        payments.add_event(events.failed(payment, outcome.reason, outcome.detail, now))
        logger.info("order %s not charged: %s (payment %s)", order_id, outcome.reason, payment.id)
