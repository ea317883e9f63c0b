"""Every statement a search runs uses an index: EXPLAIN finds no sequential scan of products.

The statements are the ones the service really sends (captured from the engine while searches
of every shape ``q`` produces run), explained with their own parameters over the demo catalogue.

Why ``SET LOCAL enable_seqscan = off``: on a table of a few thousand rows a sequential scan is
often the planner's cheapest choice even where an index could serve the query, so a plain EXPLAIN
would flag good queries. With sequential scans priced out, the planner still chooses one where
*no* index can serve a condition (``word_similarity(q, name) >= x`` is such a condition: see the
last test), so a ``Seq Scan`` on products in these plans means a search path no index covers.

Denied a sequential scan, though, the planner reads a small table whole through whatever index it
has instead, and a plain "no Seq Scan" check would pass a search no index serves: a bitmap of
``active = true`` (nearly every product), or a walk of the whole primary key in order (on 1,200
rows that costs less than a GIN probe for a prefix). So the EXPLAIN also runs with
``enable_indexscan`` and ``enable_indexonlyscan`` off (walks priced out; bitmap scans, which
need a condition, stay) and with the product indexes that have nothing to do with search dropped
(inside its transaction, rolled back). Left with the search indexes, the category index and the
keys, the planner either serves every search condition from an index or scans the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection

from agora_catalog.seed.generate import generate
from agora_catalog.seed.load import load_catalogue
from agora_chassis.state import service_state

pytestmark = pytest.mark.integration

INDEXED_TABLES = {"products", "search_terms"}
SEARCH_INDEXES = {"ix_products_search", "ix_products_words", "ix_search_terms_keys"}
KEPT_INDEXES = SEARCH_INDEXES | {
    "pk_products",
    "uq_products_sku",
    "pk_search_terms",
    "ix_products_category_id",
}
SHAPES: list[dict[str, Any]] = [
    {"q": "skillet"},  # one word, exact
    {"q": "head"},  # a prefix with completions
    {"q": "go"},  # a short word: no prefix, no typos
    {"q": "Gaimng"},  # a typo: ranked with a penalty
    {"q": "Chronogarph"},  # two typos in a long word
    {"q": "marble coffee table"},  # several words
    {"q": "Mechanicl Keybord"},  # several words with typos
    {"q": "footwear"},  # a category name
    {"q": "Sonique"},  # a brand
    {"q": "the"},  # stop words only
    {"q": "zzzzzzzz"},  # nothing
    {"q": "lamp", "sort": "price"},
    {"q": "lamp", "sort": "name", "order": "desc"},
    {"q": "lamp", "sort": "newest"},
    {"q": "lamp", "sort": "relevance", "order": "asc"},
    {"q": "lamp", "category": "decor", "brand": "Lumenhaus"},
    {"q": "lamp", "min_price": "10", "max_price": "100", "in_stock": "true"},
    {"q": "lamp", "page": 3, "per_page": 5},
]


def _nodes(plan: Any) -> Iterator[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan, sub-plans included."""
    if isinstance(plan, dict):
        if "Node Type" in plan:
            yield plan
        for value in plan.values():
            yield from _nodes(value)
    elif isinstance(plan, list):
        for item in plan:
            yield from _nodes(item)


def _unsearched(plan: Any, indexes: dict[str, str]) -> set[str]:
    """The tables of ``INDEXED_TABLES`` a plan reads without one of their search indexes.

    A ``Seq Scan`` reads a table whole. So does, in effect, an index walked without a condition
    (an ordered walk for ``ORDER BY ... LIMIT``) or an index on something else than the search
    (``active = true`` holds for nearly every product): with sequential scans priced out, the
    planner falls back on those, so the search indexes themselves must appear in the plan.
    """
    read: set[str] = set()
    searched: set[str] = set()
    for node in _nodes(plan):
        if node["Node Type"] == "Seq Scan":
            read.add(node["Relation Name"])
        elif (index := node.get("Index Name")) in indexes:
            read.add(indexes[index])
            if index in SEARCH_INDEXES and "Index Cond" in node:
                searched.add(indexes[index])
    return (read & INDEXED_TABLES) - searched


async def _indexes(connection: AsyncConnection) -> dict[str, str]:
    """Index name -> table name, for the tables that must be searched through an index."""
    rows = await connection.execute(
        text("SELECT indexname, tablename FROM pg_indexes WHERE tablename = ANY(:tables)"),
        {"tables": sorted(INDEXED_TABLES)},
    )
    return dict(rows.all())


async def _explain(
    connection: AsyncConnection, statement: str, parameters: Any, keep: frozenset[str] = frozenset()
) -> Any:
    """The plan of ``statement`` with only search indexes to use (see the module's docstring).

    Call inside a transaction that is rolled back: the indexes are dropped in it.
    """
    for setting in ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan"):
        await connection.execute(text(f"SET LOCAL {setting} = off"))
    for index in set(await _indexes(connection)) - KEPT_INDEXES - keep:
        await connection.execute(text(f'DROP INDEX "{index}"'))
    result = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
    raw = result.scalar_one()
    return json.loads(raw) if isinstance(raw, str) else raw


async def _captured(app: FastAPI, client: httpx.AsyncClient) -> list[tuple[str, Any]]:
    """The statements the searches of ``SHAPES`` send to the database (cache misses)."""
    statements: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if any(f"FROM {table}" in statement for table in INDEXED_TABLES):
            statements.append((statement, parameters))

    engine = service_state(app).engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        for params in SHAPES:
            response = await client.get("/api/v1/products", params=params)
            assert response.status_code == 200, f"{params}: {response.text}"
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return statements


async def test_search_every_query_shape_uses_indexes_only(
    app: FastAPI, clean: None, client: httpx.AsyncClient
) -> None:
    async with service_state(app).sessionmaker.begin() as session:
        await load_catalogue(session, generate())
        await session.execute(text("ANALYZE products, categories, search_terms"))
    statements = await _captured(app, client)

    scanned: list[str] = []
    async with service_state(app).engine.connect() as connection:
        indexes = await _indexes(connection)
        await connection.rollback()
        for statement, parameters in statements:
            async with connection.begin() as transaction:
                plan = await _explain(connection, statement, parameters)
                await transaction.rollback()
            tables = _unsearched(plan, indexes)
            scanned += [f"{table} ({parameters}): {statement}" for table in tables]

    assert len(statements) >= 2 * len(SHAPES), f"only {len(statements)} statements captured"
    assert not scanned, "sequential scans:\n" + "\n".join(scanned)


async def test_search_plan_check_catches_word_similarity_filter(app: FastAPI, clean: None) -> None:
    """The check above can fail: the old typo filter scans products despite a trigram index."""
    engine = service_state(app).engine
    async with engine.connect() as connection, connection.begin() as transaction:
        await connection.execute(
            text("CREATE INDEX ix_check_name_trgm ON products USING gin (name gin_trgm_ops)")
        )
        indexes = await _indexes(connection)
        plan = await _explain(
            connection,
            "SELECT id FROM products WHERE word_similarity($1, name) >= 0.5",
            ("hedphones",),
            keep=frozenset({"ix_check_name_trgm"}),
        )
        await transaction.rollback()

    assert _unsearched(plan, indexes) == {"products"}, f"expected a full scan in {plan}"
