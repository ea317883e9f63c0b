"""Payment's SQLAlchemy models."""

from agora_payment.models.base import AuditEntry, Base, DeadLetter, Inbox, OutboxMessage
from agora_payment.models.payment import Payment, PaymentStatus, Refund, RefundStatus

__all__ = [
    "AuditEntry",
    "Base",
    "DeadLetter",
    "Inbox",
    "OutboxMessage",
    "Payment",
    "PaymentStatus",
    "Refund",
    "RefundStatus",
]
