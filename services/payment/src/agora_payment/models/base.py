"""Payment's declarative base; its outbox, inbox, dead letters and audit log."""

from typing import Any, ClassVar

from sqlalchemy.orm import DeclarativeBase

from agora_chassis.audit import AuditMixin
from agora_chassis.db import TYPE_ANNOTATION_MAP, make_metadata
from agora_chassis.messaging import DeadLetterMixin, InboxMixin
from agora_chassis.outbox import OutboxMixin


class Base(DeclarativeBase):
    """Base of every payment model (own metadata, Agora naming convention)."""

    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class OutboxMessage(OutboxMixin, Base):
    """Events waiting to be published (written in the business transaction)."""

    __tablename__ = "outbox"


class Inbox(InboxMixin, Base):
    """Ids of the events already applied (redeliveries are skipped)."""

    __tablename__ = "inbox"


class DeadLetter(DeadLetterMixin, Base):
    """Events that could not be applied after every try, kept for inspection and replay."""

    __tablename__ = "dead_letters"


class AuditEntry(AuditMixin, Base):
    """Who did what: dead-letter replays and purges, with the acting user."""

    __tablename__ = "audit_log"
