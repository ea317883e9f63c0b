"""Integration tests: the shared server fixtures and the migrations gate against real servers."""

from __future__ import annotations

import asyncio
import socket
import textwrap
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import pytest

from agora_cli import gates, testdb

pytestmark = pytest.mark.integration

ENV_PY = """
import asyncio
import os

import sqlalchemy as sa
from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

metadata = sa.MetaData()
sa.Table("item", metadata, sa.Column("id", sa.Integer, primary_key=True), {extra})


def migrate(connection):
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


async def main():
    engine = create_async_engine(os.environ["AGORA_DATABASE_URL"])
    async with engine.connect() as connection:
        await connection.run_sync(migrate)
    await engine.dispose()


asyncio.run(main())
"""
MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table("item", sa.Column("id", sa.Integer, primary_key=True))
"""


def fetch(url: str, query: str) -> object:
    async def run() -> object:
        connection = await asyncpg.connect(testdb.with_scheme(url, "postgresql"))
        try:
            return await connection.fetchval(query)
        finally:
            await connection.close()

    return asyncio.run(run())


def write_service(root: Path, name: str, extra_column: str = "") -> Path:
    """A minimal service with one migration; ``extra_column`` makes its models drift."""
    versions = root / "services" / name / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "0001_item.py").write_text(MIGRATION, encoding="utf-8")
    (versions.parent / "env.py").write_text(ENV_PY.format(extra=extra_column), encoding="utf-8")
    config = root / "services" / name / "alembic.ini"
    config.write_text(textwrap.dedent("[alembic]\nscript_location = migrations\n"))
    return config


def test_postgres_server_fixture_accepts_superuser_queries(postgres_server: str) -> None:
    assert fetch(postgres_server, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")


def test_make_database_each_call_gives_a_new_empty_database(
    make_database: Callable[[str], str],
) -> None:
    first, second = make_database("fixture_check"), make_database("fixture_check")

    assert first != second
    assert fetch(first, "SELECT current_database()") == urlsplit(first).path.lstrip("/")
    assert fetch(second, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0


def test_redis_url_fixture_answers_ping(redis_url: str) -> None:
    address = urlsplit(redis_url)
    with socket.create_connection((address.hostname, address.port), timeout=5) as connection:
        connection.sendall(b"PING\r\n")
        assert connection.recv(64) == b"+PONG\r\n"


def test_alembic_step_reports_the_service_that_drifted(tmp_path: Path) -> None:
    write_service(tmp_path, "good")
    write_service(tmp_path, "bad", extra_column='sa.Column("name", sa.Text)')

    outcome = gates.alembic_step(gates.Context(root=tmp_path, options=gates.Options()))

    assert (outcome.passed, outcome.detail) == (False, "migrations: bad")
