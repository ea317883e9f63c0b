"""What a basket stores per product, and what catalog says about a product now."""

from __future__ import annotations

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
    """

    product_id: str
    quantity: int
    unit_price: Decimal
    currency: str
    name: str
    sku: str

    def encode(self) -> str:
        """The line as the JSON value of its Redis hash field (the product id is the field)."""
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
        )


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
