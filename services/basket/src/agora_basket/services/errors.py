"""Basket's domain errors; the chassis maps their bases to Problem Details and gRPC codes."""

from __future__ import annotations

from agora_chassis.errors import NotFound, Unauthorized, ValidationFailed


class ProductNotFound(NotFound):
    """The catalog knows no product with this id (404)."""

    def __init__(self, product_id: str) -> None:
        super().__init__(f"Product {product_id} does not exist.", extra={"product_id": product_id})


class ProductNotForSale(ValidationFailed):
    """The product exists but was withdrawn from sale (422)."""

    def __init__(self, product_id: str) -> None:
        super().__init__(f"Product {product_id} is not for sale.", extra={"product_id": product_id})


class CurrencyMismatch(ValidationFailed):
    """The product is priced in another currency than the basket's lines (422)."""

    def __init__(self, product_id: str, currency: str, basket_currency: str) -> None:
        super().__init__(
            f"Product {product_id} is priced in {currency}; the basket is in {basket_currency}.",
            extra={"product_id": product_id},
        )


class BasketFull(ValidationFailed):
    """The basket already holds the most lines allowed (422)."""

    def __init__(self, max_lines: int) -> None:
        super().__init__(f"A basket holds at most {max_lines} different products.")


class InvalidGuestId(Unauthorized):
    """A guest basket id whose signature does not verify (401): altered, or signed elsewhere."""

    def __init__(self) -> None:
        super().__init__("The guest basket id is not valid; drop it to start a new basket.")


class GuestIdRequired(ValidationFailed):
    """A merge without the guest basket's id (422)."""

    def __init__(self) -> None:
        super().__init__("Send the guest basket id (X-Basket-Id header or basket_id cookie).")
