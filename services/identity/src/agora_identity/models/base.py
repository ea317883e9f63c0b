"""The declarative base of identity's tables, and its outbox."""

from typing import Any, ClassVar

from sqlalchemy.orm import DeclarativeBase

from agora_chassis.db import TYPE_ANNOTATION_MAP, make_metadata
from agora_chassis.outbox import OutboxMixin


class Base(DeclarativeBase):
    """Base of every identity model (own metadata, Agora naming convention)."""

    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class OutboxMessage(OutboxMixin, Base):
    """Events waiting to be published (written in the business transaction)."""

    __tablename__ = "outbox"
