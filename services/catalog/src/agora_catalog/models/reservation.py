"""A reservation holds stock for one order until it is paid (committed) or cancelled (released)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from agora_catalog.models.base import Base
from agora_chassis.db import Timestamps, UUIDPrimaryKey

STATE_LENGTH = 16


class ReservationState(StrEnum):
    """Where a reservation stands."""

    RESERVED = "reserved"
    REJECTED = "rejected"
    RELEASED = "released"
    COMMITTED = "committed"


class Reservation(UUIDPrimaryKey, Timestamps, Base):
    """The stock held for one order (``order_id`` is unique: one reservation per order).

    ``lines`` is ``[{"product_id": ..., "quantity": ...}]`` as ordered.
    """

    __tablename__ = "reservations"

    order_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(STATE_LENGTH), index=True)
