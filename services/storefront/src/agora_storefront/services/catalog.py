"""What the shop pages read from catalog: the category tree, product pages and search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from agora_chassis.microcache import MicroCache
from agora_storefront.services.backends import Backend, Caller

SUGGESTIONS = 6
SUGGEST_FROM_CHARACTERS = 2
FILTERS = ("category", "brand", "min_price", "max_price", "in_stock", "q", "sort", "order")


@dataclass(frozen=True)
class ProductQuery:
    """A product list as the shop's filters, search box and pager ask for it."""

    category: str | None = None
    brand: str | None = None
    min_price: str | None = None
    max_price: str | None = None
    in_stock: bool | None = None
    q: str | None = None
    sort: str | None = None
    order: str | None = None
    page: int = 1

    def params(self, per_page: int) -> dict[str, str | int]:
        """The catalog's query parameters (empty filters left out)."""
        params: dict[str, str | int] = {"page": self.page, "per_page": per_page}
        for name in FILTERS:
            value = getattr(self, name)
            if value is None or value == "":
                continue
            params[name] = str(value).lower() if isinstance(value, bool) else value
        return params

    def link(self, **changes: Any) -> str:
        """The query string of this list with ``changes`` (a new filter starts at page 1).

        The category is left out: it is the page's path (``/c/<slug>``), not a parameter.
        """
        values = {name: getattr(self, name) for name in (*FILTERS, "page") if name != "category"}
        values.update(changes)
        if "page" not in changes:
            values["page"] = 1
        parts = []
        for name, value in values.items():
            if value is None or value == "" or (name == "page" and value == 1):
                continue
            text = str(value).lower() if isinstance(value, bool) else str(value)
            parts.append((name, text))
        return "?" + urlencode(parts) if parts else "?"


def flatten(tree: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every category of ``tree`` by slug, each with its ``parent`` slug (``None`` at the top)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(nodes: list[dict[str, Any]], parent: str | None) -> None:
        for node in nodes:
            found[node["slug"]] = {**node, "parent": parent}
            walk(node.get("children") or [], node["slug"])

    walk(tree, None)
    return found


@dataclass(frozen=True)
class CategoryTree:
    """The category tree and its categories by slug and by id (each with its ``parent`` slug).

    Attributes:
        nodes: Top-level categories, each with its ``children``.
        by_slug: Every category by slug.
        by_id: Every category by id.
    """

    nodes: list[dict[str, Any]]
    by_slug: dict[str, dict[str, Any]]
    by_id: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, nodes: list[dict[str, Any]]) -> CategoryTree:
        """Index catalog's tree."""
        by_slug = flatten(nodes)
        return cls(nodes, by_slug, {c["id"]: c for c in by_slug.values()})


class Catalog:
    """Catalog reads for the shop pages.

    The category tree, product lists and suggestions are the same for every shopper: they go
    through the chassis's :class:`~agora_chassis.microcache.MicroCache` (``AGORA_CATALOG_CACHE_
    SECONDS``, 2 s), without the shopper's token, so a burst of pages costs catalog one call per
    distinct list. A product's own page is asked afresh (its stock is what a shopper decides on).
    Cached answers are shared between requests: pages read them and never change them.
    """

    def __init__(self, catalog: Backend, page_size: int, cache: MicroCache[Any]) -> None:
        self.catalog = catalog
        self.page_size = page_size
        self.cache = cache

    async def _shared(
        self, path: str, caller: Caller, params: dict[str, str | int] | None = None
    ) -> Any:
        """A read whose answer is the same for every shopper, remembered for a moment."""
        public = Caller(client_address=caller.client_address)  # limits stay per shopper
        key = (path, tuple(sorted((params or {}).items())))
        return await self.cache.get(
            key, lambda: self.catalog.json("GET", path, public, params=params)
        )

    async def categories(self, caller: Caller) -> CategoryTree:
        """The category tree, indexed once per load (every page shows and looks it up)."""
        public = Caller(client_address=caller.client_address)

        async def load() -> CategoryTree:
            return CategoryTree.of(await self.catalog.json("GET", "/api/v1/categories", public))

        tree: CategoryTree = await self.cache.get(("categories",), load)
        return tree

    async def products(self, query: ProductQuery, caller: Caller) -> dict[str, Any]:
        """One page of products (``data``, ``total``, ``page``, ``total_pages``).

        Raises:
            Refused: A filter the catalog refuses (422), shown as the page's message.
        """
        params = query.params(self.page_size)
        page: dict[str, Any] = await self._shared("/api/v1/products", caller, params)
        return page

    async def suggestions(self, text: str, caller: Caller) -> list[dict[str, Any]]:
        """The best few matches for what is typed in the search box (typo tolerant)."""
        if len(text.strip()) < SUGGEST_FROM_CHARACTERS:
            return []
        params: dict[str, str | int] = {
            "q": text.strip(),
            "per_page": SUGGESTIONS,
            "sort": "relevance",
        }
        page = await self._shared("/api/v1/products", caller, params)
        return list(page["data"])

    async def product(self, product_id: str, caller: Caller) -> dict[str, Any]:
        """One product.

        Raises:
            Refused: 404: no such product.
        """
        product: dict[str, Any] = await self.catalog.json(
            "GET", f"/api/v1/products/{product_id}", caller
        )
        return product
