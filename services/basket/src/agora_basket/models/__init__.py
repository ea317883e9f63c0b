"""Basket's SQLAlchemy models (the consumer's inbox and dead letters, the audit log)."""

from agora_basket.models.base import AuditEntry, Base, DeadLetter, Inbox

__all__ = ["AuditEntry", "Base", "DeadLetter", "Inbox"]
