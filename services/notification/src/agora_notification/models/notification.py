"""One message the service sent, or tried to send."""

import datetime as dt
import uuid
from enum import StrEnum

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agora_chassis.db import UUIDPrimaryKey, utcnow
from agora_notification.models.base import Base

EMAIL_LENGTH = 320
TEMPLATE_LENGTH = 64
SUBJECT_LENGTH = 200
STATUS_LENGTH = 16
EVENT_ID_LENGTH = 64


class NotificationStatus(StrEnum):
    """Where a notification stands."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Notification(UUIDPrimaryKey, Base):
    """A message to one recipient, caused by one event (``event_id`` is unique).

    A message about an order also names it, and an order gets at most one message per template
    (``order_id`` and ``template`` are unique together; rows without an order never collide).
    """

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("order_id", "template"),)

    recipient: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    template: Mapped[str] = mapped_column(String(TEMPLATE_LENGTH))
    subject: Mapped[str] = mapped_column(String(SUBJECT_LENGTH))
    status: Mapped[str] = mapped_column(String(STATUS_LENGTH), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[dt.datetime | None]
    event_id: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH), unique=True)
    order_id: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
