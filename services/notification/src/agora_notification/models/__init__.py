"""Notification's SQLAlchemy models."""

from agora_notification.models.base import Base, DeadLetter, Inbox
from agora_notification.models.notification import Notification, NotificationStatus

__all__ = ["Base", "DeadLetter", "Inbox", "Notification", "NotificationStatus"]
