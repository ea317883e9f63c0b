"""Ordering's request errors; the chassis maps their bases to Problem Details."""

from __future__ import annotations

import uuid

from agora_chassis.errors import NotFound, ValidationFailed


class OrderNotFound(NotFound):
    """No such order, or not the caller's (404 either way: ids are not confirmed to others)."""

    def __init__(self, order_id: uuid.UUID) -> None:
        super().__init__(f"Order {order_id} does not exist.")


class ProductNotFound(NotFound):
    """Catalog knows no product with this id (404)."""

    def __init__(self, product_id: uuid.UUID) -> None:
        super().__init__(
            f"Product {product_id} does not exist.", extra={"product_id": str(product_id)}
        )


class ProductNotForSale(ValidationFailed):
    """The product was withdrawn from sale (422)."""

    def __init__(self, product_id: uuid.UUID) -> None:
        super().__init__(
            f"Product {product_id} is not for sale.", extra={"product_id": str(product_id)}
        )


class MixedCurrencies(ValidationFailed):
    """The products are priced in more than one currency (422)."""

    def __init__(self, currencies: set[str]) -> None:
        super().__init__(f"One order takes one currency; these lines use {sorted(currencies)}.")


class EmptyBasket(ValidationFailed):
    """A ``from_basket`` order with nothing in the basket (422)."""

    def __init__(self) -> None:
        super().__init__("The basket is empty: add products first, or send the lines.")
