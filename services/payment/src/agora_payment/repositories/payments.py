"""Queries on ``payments`` and ``refunds``, and the outbox."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agora_chassis.ids import new_id
from agora_chassis.outbox import add_event
from agora_contracts.envelope import CloudEvent
from agora_payment.models import (
    OutboxMessage,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)


class PaymentRepository:
    """Data access for payments and their refunds, bound to one transaction's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim_charge(
        self, *, order_id: uuid.UUID, buyer_id: uuid.UUID, amount: Decimal, currency: str
    ) -> Payment:
        """The order's payment, created ``pending`` if new, locked until the transaction ends.

        Concurrent deliveries of the order take turns on the row; one order has one payment
        (``order_id`` is unique).
        """
        await self.session.execute(
            insert(Payment)
            .values(
                id=new_id(),
                order_id=order_id,
                buyer_id=buyer_id,
                amount=amount,
                currency=currency,
                status=PaymentStatus.PENDING.value,
                charge_in_doubt=False,
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["order_id"])
        )
        row = await self.for_order(order_id)
        assert row is not None  # noqa: S101 - inserted or found just above
        return row

    async def for_order(self, order_id: uuid.UUID) -> Payment | None:
        """The order's payment, locked until the transaction ends."""
        return await self.session.scalar(
            select(Payment)
            .where(Payment.order_id == order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def locked(self, payment_id: uuid.UUID) -> Payment | None:
        """The payment, locked until the transaction ends."""
        return await self.session.scalar(
            select(Payment)
            .where(Payment.id == payment_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def claim_refund(self, payment: Payment) -> Refund:
        """The payment's refund of the whole charge, created ``pending`` if new, locked."""
        await self.session.execute(
            insert(Refund)
            .values(
                id=new_id(),
                payment_id=payment.id,
                amount=payment.amount,
                currency=payment.currency,
                status=RefundStatus.PENDING.value,
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["payment_id"])
        )
        row = await self.session.scalar(
            select(Refund)
            .where(Refund.payment_id == payment.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert row is not None  # noqa: S101 - inserted or found just above
        return row

    def add_event(self, event: CloudEvent) -> None:
        """Write an event to the outbox, in this transaction."""
        add_event(self.session, OutboxMessage, event)

    async def list(
        self,
        *,
        status: PaymentStatus | None,
        order_id: uuid.UUID | None,
        offset: int,
        limit: int,
    ) -> tuple[list[Payment], int]:
        """One page of payments, newest first, with the filters' total count."""
        filters = []
        if status is not None:
            filters.append(Payment.status == status.value)
        if order_id is not None:
            filters.append(Payment.order_id == order_id)
        total = await self.session.scalar(select(func.count()).select_from(Payment).where(*filters))
        rows = await self.session.scalars(
            select(Payment)
            .where(*filters)
            .order_by(Payment.created_at.desc(), Payment.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(rows), total or 0
