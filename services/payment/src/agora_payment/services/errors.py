"""Payment's domain errors: messages no retry can apply (dead-lettered for an operator)."""

from __future__ import annotations

import uuid

from agora_chassis.messaging import PermanentFailure


class PaymentNotFound(PermanentFailure):
    """A refund was asked for a payment this service never made."""

    def __init__(self, payment_id: uuid.UUID) -> None:
        super().__init__(f"no payment {payment_id} to refund")


class NotRefundable(PermanentFailure):
    """A refund was asked for a payment that holds no charge (failed or pending), or for
    another order than the payment's."""

    def __init__(self, payment_id: uuid.UUID, why: str) -> None:
        super().__init__(f"payment {payment_id} cannot be refunded: {why}")
