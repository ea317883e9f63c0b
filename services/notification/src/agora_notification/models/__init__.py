"""Notification's SQLAlchemy models."""

from agora_notification.models.base import AuditEntry, Base, DeadLetter, Inbox
from agora_notification.models.notification import Notification, NotificationStatus
from agora_notification.models.recipient import Recipient

__all__ = [
    "AuditEntry",
    "Base",
    "DeadLetter",
    "Inbox",
    "Notification",
    "NotificationStatus",
    "Recipient",
]
