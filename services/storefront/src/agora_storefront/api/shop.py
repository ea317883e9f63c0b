"""The shopper's catalogue pages: home, category, search (with suggestions), product."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from http import HTTPStatus
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from agora_storefront.api.deps import CurrentVisitor, Visitor, storefront
from agora_storefront.api.pages import render
from agora_storefront.services.backends import Refused
from agora_storefront.services.catalog import Catalog, ProductQuery

router = APIRouter(include_in_schema=False)

Sort = Literal["relevance", "price", "name", "newest"]
Order = Literal["asc", "desc"]
SORTS = {"newest": "Newest", "price": "Price", "name": "Name", "relevance": "Best match"}


async def catalog(request: Request) -> Catalog:
    """The catalog reads, for this app's settings."""
    state = storefront(request)
    return Catalog(state.backends.catalog, state.settings.page_size, state.catalog_cache)


Products = Annotated[Catalog, Depends(catalog)]


class ListFilters(BaseModel):
    """The filters, sort and page a product list's address may carry (others are ignored).

    One model, validated at once by Pydantic: as eight separate query parameters, FastAPI's
    per-parameter handling was a fifth of a list page's CPU (benchmarks/README.md).
    """

    model_config = ConfigDict(extra="ignore")

    brand: str | None = Field(default=None, max_length=100)
    min_price: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    max_price: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    in_stock: bool | None = None
    q: str | None = Field(default=None, max_length=200)
    sort: Sort | None = None
    order: Order | None = None
    page: int = Field(default=1, ge=1, le=10_000)


async def product_query(filters: Annotated[ListFilters, Query()]) -> ProductQuery:
    """The list the filters in the address ask for (bad values answer a 400 page)."""
    text = (filters.q or "").strip() or None
    sort = None if filters.sort == "relevance" and text is None else filters.sort
    return ProductQuery(
        brand=(filters.brand or "").strip() or None,
        min_price=None if filters.min_price is None else str(filters.min_price),
        max_price=None if filters.max_price is None else str(filters.max_price),
        in_stock=filters.in_stock or None,
        q=text,
        sort=sort,
        order=filters.order,
        page=filters.page,
    )


Filters = Annotated[ProductQuery, Depends(product_query)]


async def _listing(
    request: Request,
    visitor: Visitor,
    products: Catalog,
    query: ProductQuery,
    title: str,
) -> Response:
    """A product grid with the category tree, filters, sort and pager."""
    # Both catalog calls at once: a page waits for the slower one, not for the two in turn.
    tree, (page, message) = await asyncio.gather(
        products.categories(visitor.caller), _page(products, query, visitor)
    )
    categories = tree.by_slug
    if query.category is not None and query.category not in categories:
        return await render(request, "error.html", _no_category(query.category), status=404)
    fallback = None
    if not page["data"] and query.q:
        fallback = await products.products(ProductQuery(), visitor.caller)
    context = {
        "title": title,
        "tree": tree.nodes,
        "categories": categories,
        "query": query,
        "page": page,
        "sorts": SORTS,
        "message": message,
        "fallback": fallback["data"][:4] if fallback else [],
    }
    return await render(request, "shop/list.html", context)


async def _page(
    products: Catalog, query: ProductQuery, visitor: Visitor
) -> tuple[dict[str, Any], str | None]:
    """One page of products, or an empty one with the catalog's message for a refused filter."""
    try:
        return await products.products(query, visitor.caller), None
    except Refused as refused:
        if refused.status != HTTPStatus.UNPROCESSABLE_ENTITY:
            raise
        return {"data": [], "total": 0, "page": 1, "total_pages": 0}, refused.detail


def _no_category(slug: str) -> dict[str, object]:
    return {
        "title": "Category not found",
        "detail": f"There is no category “{slug}”. Pick one from the menu.",
        "status": 404,
    }


@router.get("/")
async def home(
    request: Request, visitor: CurrentVisitor, products: Products, query: Filters
) -> Response:
    """The home page: every product, newest first, with the category tree and filters."""
    return await _listing(request, visitor, products, query, "Agora — shop")


@router.get("/c/{slug}")
async def category(
    request: Request,
    slug: Annotated[str, Path(max_length=100, pattern=r"^[a-z0-9-]+$")],
    visitor: CurrentVisitor,
    products: Products,
    query: Filters,
) -> Response:
    """A category page: its products (sub-categories included)."""
    scoped = ProductQuery(**{**query.__dict__, "category": slug})
    title = slug.replace("-", " ").title()
    return await _listing(request, visitor, products, scoped, f"{title} — Agora")


@router.get("/search")
async def search(
    request: Request, visitor: CurrentVisitor, products: Products, query: Filters
) -> Response:
    """Search results, best match first (typo tolerant: the catalog's search)."""
    if query.q and query.sort is None:
        query = ProductQuery(**{**query.__dict__, "sort": "relevance"})
    title = f"“{query.q}” — search — Agora" if query.q else "Search — Agora"
    return await _listing(request, visitor, products, query, title)


@router.get("/search/suggestions")
async def suggestions(
    request: Request,
    visitor: CurrentVisitor,
    products: Products,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The suggestions under the search box, as the shopper types (an HTMX fragment)."""
    found = await products.suggestions(q, visitor.caller)
    return await render(request, "fragments/suggestions.html", {"found": found, "q": q})


@router.get("/products/{product_id}")
async def product(
    request: Request, product_id: uuid.UUID, visitor: CurrentVisitor, products: Products
) -> Response:
    """A product page: image, price, stock, attributes and the add-to-basket form."""
    item = await products.product(str(product_id), visitor.caller)
    tree = await products.categories(visitor.caller)
    context = {
        "title": f"{item['name']} — Agora",
        "product": item,
        "category": tree.by_id.get(item["category_id"]),
        "tree": tree.nodes,
    }
    return await render(request, "shop/product.html", context)
