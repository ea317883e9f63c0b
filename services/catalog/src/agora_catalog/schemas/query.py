"""The query of ``GET /products``: filters, full-text search and sort, validated in one place."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from agora_catalog.schemas.category import Slug
from agora_catalog.schemas.product import PRINTABLE, Price

Sort = Literal["relevance", "price", "name", "newest"]
Order = Literal["asc", "desc"]
DEFAULT_ORDER: dict[str, Order] = {
    "relevance": "desc",
    "price": "asc",
    "name": "asc",
    "newest": "desc",
}
SearchText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE)
]


class ProductQuery(BaseModel):
    """Filters, search and sort of a product list.

    Attributes:
        category: Category slug; sub-categories are included.
        brand: Exact brand (case-insensitive).
        min_price: Lowest price, inclusive.
        max_price: Highest price, inclusive.
        in_stock: Only products with units available (``true``) or without (``false``).
        q: Full-text search (English stemming, typo tolerant); ranks results by relevance.
        sort: ``relevance`` (the default with ``q``), ``price``, ``name`` or ``newest`` (default).
        order: ``asc`` or ``desc``; the default depends on ``sort``.
    """

    # Unknown parameters are refused by the endpoint (with the allowed names), not here: FastAPI
    # hands a query model every parameter, ``page`` and ``per_page`` included.
    model_config = ConfigDict(extra="ignore", frozen=True)

    category: Slug | None = None
    brand: (
        Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=PRINTABLE)] | None
    ) = None
    min_price: Price | None = None
    max_price: Price | None = None
    in_stock: bool | None = None
    q: SearchText | None = None
    sort: Sort | None = None
    order: Order | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ProductQuery:
        bounds = (self.min_price, self.max_price)
        if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
            raise ValueError("min_price must not be above max_price")
        if self.sort == "relevance" and self.q is None:
            raise ValueError("sort=relevance needs a search text q")
        return self

    @classmethod
    def parameter_names(cls) -> list[str]:
        """The query parameter names this model reads."""
        return list(cls.model_fields)

    @property
    def effective_sort(self) -> tuple[Sort, Order]:
        """The sort and direction applied (defaults filled in)."""
        sort: Sort = self.sort or ("relevance" if self.q else "newest")
        return sort, self.order or DEFAULT_ORDER[sort]

    def cache_key(self, page: int, per_page: int) -> str:
        """A short stable key for this query and page (for the list cache)."""
        canonical = self.model_dump_json(exclude_none=True) + f"|{page}|{per_page}"
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]
