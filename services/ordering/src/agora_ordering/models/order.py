"""The ``orders`` table: one row per order, its saga state in columns, its parts in JSONB.

An order is written as one aggregate: the lines are fixed when it is placed, the timeline and the
refunds only grow, and every transition rewrites the row under the aggregate's version (the
``version_id`` column; a concurrent writer's update finds no row and fails instead of being
lost). Lines, timeline, refunds and address are JSONB documents of the row rather than child
tables: they are always read and written with their order, never queried alone, so one row per
order keeps a saga step to one UPDATE (ADR 0023).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Index, Numeric, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from agora_chassis.db import utcnow
from agora_ordering.models.base import Base

STATUS_LENGTH = 20
REASON_LENGTH = 40
CURRENCY_LENGTH = 3
TOKEN_LENGTH = 200
MONEY = Numeric(12, 2)


class OrderRow(Base):
    """One order as stored; :mod:`agora_ordering.repositories.orders` maps it to the aggregate."""

    __tablename__ = "orders"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    buyer_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(STATUS_LENGTH))
    currency: Mapped[str] = mapped_column(String(CURRENCY_LENGTH))
    total: Mapped[Decimal] = mapped_column(MONEY)
    payment_token: Mapped[str] = mapped_column(String(TOKEN_LENGTH))
    ship_to: Mapped[dict[str, Any]] = mapped_column(JSONB)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    timeline: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    refunds: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    cancel_reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH))
    deadline_step: Mapped[str | None] = mapped_column(String(STATUS_LENGTH))
    deadline_at: Mapped[dt.datetime | None]
    payment_id: Mapped[uuid.UUID | None]
    placed_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version_id: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012 - SQLAlchemy's API
    __table_args__ = (
        # "My orders, newest first" and the admin's "orders of this customer".
        Index("ix_orders_buyer_id_placed_at", "buyer_id", "placed_at"),
        Index("ix_orders_status_placed_at", "status", "placed_at"),
        Index("ix_orders_placed_at", "placed_at"),
        # The deadline scheduler scans only orders that wait on a step: keep that index small.
        Index(
            "ix_orders_deadline_at",
            "deadline_at",
            postgresql_where=text("deadline_at IS NOT NULL"),
        ),
    )
