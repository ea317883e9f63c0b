"""Catalog's tables."""

from agora_catalog.models.base import (
    AuditEntry,
    Base,
    DeadLetter,
    IdempotencyRecord,
    Inbox,
    OutboxMessage,
)
from agora_catalog.models.category import Category
from agora_catalog.models.product import Product, Stock
from agora_catalog.models.reservation import Reservation, ReservationState
from agora_catalog.models.search_term import SearchTerm

__all__ = [
    "AuditEntry",
    "Base",
    "Category",
    "DeadLetter",
    "IdempotencyRecord",
    "Inbox",
    "OutboxMessage",
    "Product",
    "Reservation",
    "ReservationState",
    "SearchTerm",
    "Stock",
]
