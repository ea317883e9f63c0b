"""The payments the service made, for admins."""

from __future__ import annotations

import uuid

from agora_payment.models import Payment, PaymentStatus
from agora_payment.repositories.payments import PaymentRepository


class PaymentHistory:
    """Reads payments (with their refunds) for one transaction."""

    def __init__(self, payments: PaymentRepository) -> None:
        """Read through ``payments``."""
        self.payments = payments

    async def page(
        self,
        *,
        status: PaymentStatus | None,
        order_id: uuid.UUID | None,
        offset: int,
        limit: int,
    ) -> tuple[list[Payment], int]:
        """One page of payments, newest first, filtered, and the filters' total count."""
        return await self.payments.list(
            status=status, order_id=order_id, offset=offset, limit=limit
        )
