"""What catalog's audit log records: every admin change, with the acting user."""

from enum import StrEnum


class CatalogAudit(StrEnum):
    """Audited actions (the ``event`` of an ``audit_log`` row)."""

    PRODUCT_CREATED = "product_created"
    PRODUCT_CHANGED = "product_changed"
    PRODUCT_DELETED = "product_deleted"
    STOCK_ADJUSTED = "stock_adjusted"
    CATEGORY_CREATED = "category_created"
    CATEGORY_CHANGED = "category_changed"
    CATEGORY_DELETED = "category_deleted"
