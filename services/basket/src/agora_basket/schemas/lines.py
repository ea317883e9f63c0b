"""What a basket stores per product, and what catalog says about a product now."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class StoredLine:
    """One basket line as kept in Redis: the quantity and what the shopper last saw.

    Attributes:
        product_id: The product (a UUID string).
        quantity: Units wanted.
        unit_price: The unit price when the shopper last set the quantity.
        currency: That price's currency.
        name: The product's name then (shown when catalog cannot be asked).
        sku: Its stock keeping unit (names its image).
        known_price: Catalog's price from the latest ``product.price_changed`` since the shopper
            set the line (``None``: none came); a stale read shows it.
        known_currency: That price's currency (the script also keeps the notice's time, which
            only it compares).
    """

    product_id: str
    quantity: int
    unit_price: Decimal
    currency: str
    name: str
    sku: str
    known_price: Decimal | None = None
    known_currency: str | None = None

    def encode(self) -> str:
        """The line as the JSON value of its Redis hash field (the product id is the field).

        A line the shopper sets carries no known price: they have just seen the current one.
        """
        return json.dumps(
            {
                "q": self.quantity,
                "p": str(self.unit_price),
                "c": self.currency,
                "n": self.name,
                "s": self.sku,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, product_id: str, raw: str | bytes) -> StoredLine:
        """The line stored under ``product_id``.

        Args:
            product_id: The hash field.
            raw: Its JSON value, as :meth:`encode` wrote it.

        Returns:
            The line.
        """
        value = json.loads(raw)
        return cls(
            product_id=product_id,
            quantity=int(value["q"]),
            unit_price=Decimal(value["p"]),
            currency=str(value["c"]),
            name=str(value["n"]),
            sku=str(value["s"]),
            known_price=Decimal(value["k"]) if "k" in value else None,
            known_currency=value.get("kc"),
        )


@dataclass(frozen=True, slots=True)
class PriceNotice:
    """Catalog's word that a product's price changed (from ``product.price_changed``).

    Attributes:
        product_id: The product (a UUID string).
        unit_price: The new price.
        currency: Its currency.
        changed_at: When, as a UTC ISO 8601 string with microseconds: a fixed width, so that
            the Lua script compares two notices as strings and keeps the later one.
    """

    product_id: str
    unit_price: Decimal
    currency: str
    changed_at: str

    @classmethod
    def of(
        cls, product_id: str, unit_price: Decimal, currency: str, changed_at: dt.datetime
    ) -> PriceNotice:
        """A notice with ``changed_at`` written in the comparable form."""
        stamp = changed_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
        return cls(product_id, unit_price, currency, stamp)


@dataclass(frozen=True, slots=True)
class CatalogProduct:
    """A product as catalog's ``GetProducts`` answers it.

    Attributes:
        product_id: The product (a UUID string).
        sku: Its stock keeping unit.
        name: The name shoppers see.
        unit_price: The current unit price.
        currency: The price's ISO 4217 code.
        available: Units free to order.
        active: ``False`` once withdrawn from sale.
    """

    product_id: str
    sku: str
    name: str
    unit_price: Decimal
    currency: str
    available: int
    active: bool
