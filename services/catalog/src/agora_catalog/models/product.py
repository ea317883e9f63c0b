"""Products and their stock.

``search`` is a generated ``tsvector`` (name weighted above brand above description) with a GIN
index; typo tolerance looks words up in ``search_terms`` first (``models.search_term``) and finds
the words it expands to in ``words`` (name and brand as written, unstemmed; GIN index).
``version_id`` is SQLAlchemy's optimistic lock: an update of a stale row fails instead of
overwriting someone else's change.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Computed,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agora_catalog.models.base import Base
from agora_chassis.db import Timestamps, UUIDPrimaryKey

SKU_LENGTH = 64
NAME_LENGTH = 200
BRAND_LENGTH = 100
CURRENCY_LENGTH = 3
URL_LENGTH = 500
PRICE_PRECISION = 12
PRICE_SCALE = 2
SEARCH_DOCUMENT = (
    "setweight(to_tsvector('english', coalesce(name, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(brand, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(description, '')), 'C')"
)
WORDS_DOCUMENT = (
    "to_tsvector('simple', regexp_replace(lower(name || ' ' || brand), '[^[:alnum:]]+', ' ', 'g'))"
)
"""The words of name and brand as written (no stemming), as the vocabulary splits them."""


class Product(UUIDPrimaryKey, Timestamps, Base):
    """Something the shop sells."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        Index("ix_products_search", "search", postgresql_using="gin"),
        Index("ix_products_words", "words", postgresql_using="gin"),
        Index("ix_products_created_at_id", "created_at", "id"),
        Index("ix_products_price_id", "price", "id"),
        Index("ix_products_name_id", "name", "id"),
        Index("ix_products_lower_brand", func.lower(text("brand"))),
    )

    sku: Mapped[str] = mapped_column(String(SKU_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    brand: Mapped[str] = mapped_column(String(BRAND_LENGTH))
    price: Mapped[Decimal] = mapped_column(Numeric(PRICE_PRECISION, PRICE_SCALE))
    currency: Mapped[str] = mapped_column(String(CURRENCY_LENGTH), default="EUR")
    image_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    active: Mapped[bool] = mapped_column(default=True, index=True)
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), index=True
    )
    version_id: Mapped[int] = mapped_column(default=1)
    search: Mapped[Any] = mapped_column(
        TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True), deferred=True
    )
    words: Mapped[Any] = mapped_column(
        TSVECTOR, Computed(WORDS_DOCUMENT, persisted=True), deferred=True
    )

    stock: Mapped[Stock] = relationship(lazy="joined", innerjoin=True, cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012 - SQLAlchemy's declaration

    @property
    def available(self) -> int:
        """Units free to order."""
        return self.stock.available

    @property
    def version(self) -> int:
        """The optimistic-lock version clients send back (``If-Match`` or ``version``)."""
        return self.version_id


class Stock(Base):
    """Units of one product: on the shelf, and reserved for unpaid orders.

    The database refuses negative stock and reserving more than is on hand, whatever the code does.
    """

    __tablename__ = "stock"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)

    @property
    def available(self) -> int:
        """Units free to reserve."""
        return self.on_hand - self.reserved
