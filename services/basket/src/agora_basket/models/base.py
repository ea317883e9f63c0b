"""Basket's tables: the event consumer's inbox and dead letters, and the audit log.

Baskets themselves live in Redis. PostgreSQL keeps what the chassis's event consumer needs to
apply each event once and to keep what it could not apply (``agora dlq``, the dead-letter admin
API), and the audit log of operators' replays and purges.
"""

from typing import Any, ClassVar

from sqlalchemy.orm import DeclarativeBase

from agora_chassis.audit import AuditMixin
from agora_chassis.db import TYPE_ANNOTATION_MAP, make_metadata
from agora_chassis.messaging import DeadLetterMixin, InboxMixin


class Base(DeclarativeBase):
    """Base of every basket model (own metadata, Agora naming convention)."""

    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class Inbox(InboxMixin, Base):
    """Ids of the events already applied (redeliveries are skipped)."""

    __tablename__ = "inbox"


class DeadLetter(DeadLetterMixin, Base):
    """Events that could not be applied after every try, kept for inspection and replay."""

    __tablename__ = "dead_letters"


class AuditEntry(AuditMixin, Base):
    """Who replayed or purged a dead letter, and when."""

    __tablename__ = "audit_log"
