"""Migration 0003 on a database that already has products: the vocabulary is backfilled."""

from __future__ import annotations

import asyncio
import os
import subprocess  # nosec B404 - runs this interpreter's alembic, as agora up does
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = pytest.mark.integration

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def _alembic(database_url: str, *command: str) -> None:
    subprocess.run(  # nosec B603 - fixed argv: this interpreter running alembic
        [sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), *command],
        check=True,
        env=os.environ | {"AGORA_DATABASE_URL": database_url},
        capture_output=True,
    )


async def _arrange(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO categories (id, name, slug) VALUES"
                " (gen_random_uuid(), 'Lighting', 'l')"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO products (id, sku, name, description, brand, price, currency,"
                " attributes, active, category_id, version_id) SELECT gen_random_uuid(), 'G',"
                " 'Gaming Mouse', '', 'Voltari', 1, 'EUR', '{}', true, id, 1 FROM categories"
            )
        )
    await engine.dispose()


async def _query(url: str, statement: str) -> list[object]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        rows = list(await connection.scalars(text(statement)))
    await engine.dispose()
    return rows


def test_migration_0003_backfills_the_vocabulary_and_downgrades(
    make_database: Callable[[str], str],
) -> None:
    # Synchronous: creating the database runs its own event loop.
    url = make_database("catalog_migration")
    _alembic(url, "upgrade", "0002")
    asyncio.run(_arrange(url))

    _alembic(url, "upgrade", "head")
    terms = set(asyncio.run(_query(url, "SELECT term FROM search_terms")))
    _alembic(url, "downgrade", "0002")
    left = asyncio.run(_query(url, "SELECT to_regclass('search_terms')"))

    assert terms == {"gaming", "mouse", "voltari", "lighting"}
    assert left == [None], "downgrade left the search_terms table"
