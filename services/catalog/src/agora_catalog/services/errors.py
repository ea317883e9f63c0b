"""Catalog's domain errors (mapped to Problem Details and gRPC status codes by the chassis)."""

from agora_chassis.errors import (
    AgoraError,
    Conflict,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)


class ProductNotFound(NotFound):
    """No (active) product with this id or SKU."""

    title = "Product not found"


class CategoryNotFound(NotFound):
    """No category with this id."""

    title = "Category not found"


class SkuTaken(Conflict):
    """Another product already has this SKU."""

    title = "SKU already in use"


class SlugTaken(Conflict):
    """Another category already has this slug."""

    title = "Slug already in use"


class CategoryInUse(Conflict):
    """Products or sub-categories still belong to the category."""

    title = "Category in use"


class CategoryCycle(Conflict):
    """The new parent would make the category its own ancestor."""

    title = "Category cycle"


class StaleVersion(Conflict):
    """The change was based on an older version than the stored one (``version`` in the body)."""

    title = "Stale version"


class StalePrecondition(PreconditionFailed):
    """``If-Match`` names an older version than the stored one."""

    title = "Precondition failed"


class InsufficientStock(Conflict):
    """A stock adjustment would leave fewer units than are reserved, or fewer than none."""

    title = "Insufficient stock"


class UnknownCategoryFilter(ValidationFailed):
    """The ``category`` filter names no category; the allowed values are listed."""

    title = "Unknown category"


class PreconditionRequired(AgoraError):
    """An update or delete came without ``If-Match`` or ``version``: it could overwrite a change."""

    status = 428
    title = "Precondition required"


class UnknownCategory(ValidationFailed):
    """The product names a category that does not exist."""

    title = "Unknown category"


class ReservationMissing(Conflict):
    """An order was paid, but catalog holds no reservation for it."""

    title = "No reservation"


class ProductReserved(Conflict):
    """The product has units reserved for open orders, so it cannot be deleted."""

    title = "Product reserved"
