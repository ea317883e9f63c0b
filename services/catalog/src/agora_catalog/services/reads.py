"""Shoppers' product reads: served from the cache, from the database only on a miss.

Reads return the JSON body itself (``bytes``), exactly as cached, so a cache hit costs no
serialisation and the ETag is the hash of the bytes sent. A cache hit never opens a database
session: the session, its transaction and their bookkeeping would cost a hit a tenth of its CPU.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_catalog.models import Product
from agora_catalog.repositories.categories import CategoryRepository
from agora_catalog.repositories.products import ProductRepository
from agora_catalog.repositories.search_terms import SearchTermRepository
from agora_catalog.schemas.product import ProductRead
from agora_catalog.schemas.query import ProductQuery
from agora_catalog.schemas.search import SearchPlan
from agora_catalog.services import search
from agora_catalog.services.cache import ProductCache, product_key, sku_key
from agora_catalog.services.errors import ProductNotFound, UnknownCategoryFilter
from agora_chassis.pagination import Page, PageParams


def render(product: Product) -> bytes:
    """The JSON body of a product, as shoppers and the cache see it."""
    return ProductRead.model_validate(product).model_dump_json().encode()


ProductRepositories = Callable[[AsyncSession], ProductRepository]
"""Builds the products repository of a session (given by the wiring)."""
CategoryRepositories = Callable[[AsyncSession], CategoryRepository]
"""Builds the categories repository of a session (given by the wiring)."""
SearchTermRepositories = Callable[[AsyncSession], SearchTermRepository]
"""Builds the search vocabulary repository of a session (given by the wiring)."""


class ProductReads:
    """Cached product reads; each miss reads the database in its own short session."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        cache: ProductCache,
        products: ProductRepositories,
        categories: CategoryRepositories,
        terms: SearchTermRepositories,
    ) -> None:
        """Read through ``cache``; on a miss, open a session and read through the repositories.

        Args:
            sessionmaker: Opens the short session of a cache miss.
            cache: The product cache.
            products: Builds a session's products repository.
            categories: Builds a session's categories repository.
            terms: Builds a session's search vocabulary repository.
        """
        self.sessionmaker = sessionmaker
        self.cache = cache
        self.products = products
        self.categories = categories
        self.terms = terms

    async def read(self, product_id: uuid.UUID) -> bytes:
        """The product's JSON (cached); inactive products are not found."""
        return await self._read_cached(
            product_key(product_id),
            lambda products: products.get(product_id),
            lambda: f"no product {product_id}",
        )

    async def read_by_sku(self, sku: str) -> bytes:
        """The JSON of the product with this SKU (cached); inactive products are not found."""
        return await self._read_cached(
            sku_key(sku),
            lambda products: products.get_by_sku(sku),
            lambda: f"no product with SKU {sku!r}",
        )

    async def _read_cached(
        self,
        key: str,
        load: Callable[[ProductRepository], Awaitable[Product | None]],
        missing: Callable[[], str],
    ) -> bytes:
        # ``missing`` is only formatted on a miss: formatting a UUID (the stdlib's Python
        # ``UUID.__str__``) for every cached read cost about 1% of it.
        if (cached := await self.cache.get(key)) is not None:
            return cached
        generation = await self.cache.generation()  # before the read: see ProductCache
        async with self.sessionmaker() as session:
            product = await load(self.products(session))
            if product is None or not product.active:
                raise ProductNotFound(missing())
            body = render(product)
        await self.cache.put_if_generation(key, body, self.cache.product_ttl, generation)
        return body

    async def search(self, query: ProductQuery, page: PageParams) -> bytes:
        """One page of matching products as a JSON pagination envelope (cached)."""
        key = await self.cache.list_key(query.cache_key(page.page, page.per_page))
        if key is not None and (cached := await self.cache.get(key)) is not None:
            return cached
        async with self.sessionmaker() as session:
            body = await self._search(session, query, page)
        if key is not None:
            await self.cache.put(key, body, self.cache.list_ttl)
        return body

    async def _search(self, session: AsyncSession, query: ProductQuery, page: PageParams) -> bytes:
        categories = self.categories(session)
        if query.category is not None and not await categories.get_by_slug(query.category):
            allowed = await categories.slugs()
            raise UnknownCategoryFilter(
                f"unknown category {query.category!r}", extra={"allowed": allowed}
            )
        plan = None if query.q is None else await self._plan(session, query.q)
        products = self.products(session)
        items, total = await products.search(query, plan, offset=page.offset, limit=page.per_page)
        reads = [ProductRead.model_validate(item) for item in items]
        return Page[ProductRead].of(reads, total, page).model_dump_json().encode()

    async def _plan(self, session: AsyncSession, q: str) -> SearchPlan:
        """What the search text ``q`` expands to, through the vocabulary (``services.search``)."""
        found = search.words(q)
        candidates, lexemes = await self.terms(session).lookup(found, search.lookup_keys(found))
        categories = await self.categories(session).all()
        return search.plan(found, candidates, lexemes, categories)
