"""Ordering's tables: orders, and the chassis's outbox, inbox, dead letters, audit and keys."""

from agora_ordering.models.base import (
    AuditEntry,
    Base,
    DeadLetter,
    IdempotencyRecord,
    Inbox,
    OutboxMessage,
)
from agora_ordering.models.order import OrderRow

__all__ = [
    "AuditEntry",
    "Base",
    "DeadLetter",
    "IdempotencyRecord",
    "Inbox",
    "OrderRow",
    "OutboxMessage",
]
