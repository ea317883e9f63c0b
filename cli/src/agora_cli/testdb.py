"""Throwaway PostgreSQL servers and databases for the gates and the test fixtures.

The server is the one named by ``AGORA_TEST_DATABASE_URL`` (a superuser URL such as
``postgresql://postgres@127.0.0.1:5432/postgres``) when that variable is set; otherwise an
embedded PostgreSQL is started in a scratch directory on a free port and stopped afterwards.
Every caller gets fresh, uniquely named databases on it, so runs never see each other's data.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from agora_cli.infra.ports import free_port

DATABASE_URL_ENV = "AGORA_TEST_DATABASE_URL"
ASYNCPG_SCHEME = "postgresql+asyncpg"
# Database names are spliced into DDL (identifiers cannot be bound parameters), so the prefix is
# restricted to a safe alphabet and the rest is generated here.
_PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_SUFFIX_BYTES = 4
SCRATCH_MODE = 0o711


@contextmanager
def postgres_superuser() -> Iterator[str]:
    """Provide a PostgreSQL superuser URL for the duration of the block.

    Yields:
        A ``postgresql+asyncpg://`` superuser URL.
    """
    external = os.environ.get(DATABASE_URL_ENV)
    if external:
        yield with_scheme(external, ASYNCPG_SCHEME)
        return
    # Imported here so that a run against an external server never needs the embedded binaries.
    from agora_cli.infra.postgres import EmbeddedPostgres

    scratch = Path(tempfile.mkdtemp(prefix="agora-pg-"))
    # Under root the server runs as nobody, which must be able to traverse into the scratch dir.
    scratch.chmod(SCRATCH_MODE)
    server = EmbeddedPostgres(scratch / "data", port=free_port(), log_file=scratch / "server.log")
    try:
        server.start()
        yield with_scheme(server.superuser_url, ASYNCPG_SCHEME)
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def with_scheme(url: str, scheme: str) -> str:
    """Return ``url`` with its scheme replaced (``postgresql`` <-> ``postgresql+asyncpg``)."""
    return urlunsplit(urlsplit(url)._replace(scheme=scheme))


def with_database(url: str, database: str) -> str:
    """Return ``url`` pointing at ``database`` on the same server with the same credentials."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def database_name(prefix: str) -> str:
    """Return a fresh database name ``<prefix>_<random hex>``.

    Raises:
        ValueError: If ``prefix`` is not lower-case letters, digits and underscores.
    """
    if not _PREFIX_PATTERN.match(prefix):
        raise ValueError(f"database prefix {prefix!r} must match {_PREFIX_PATTERN.pattern}")
    return f"{prefix}_{secrets.token_hex(_SUFFIX_BYTES)}"


def create_database(superuser_url: str, prefix: str) -> str:
    """Create an empty database on the server of ``superuser_url``.

    Args:
        superuser_url: URL of a role allowed to create databases.
        prefix: Start of the database name; a random suffix makes it unique.

    Returns:
        A ``postgresql+asyncpg://`` URL of the new database, same credentials as the superuser.
    """
    name = database_name(prefix)
    asyncio.run(_execute(superuser_url, f'CREATE DATABASE "{name}"'))
    return with_scheme(with_database(superuser_url, name), ASYNCPG_SCHEME)


def drop_database(superuser_url: str, database_url: str) -> None:
    """Drop the database of ``database_url``, disconnecting any session still using it."""
    name = urlsplit(database_url).path.lstrip("/")
    database_name(name.rsplit("_", 1)[0])  # refuses anything this module did not name
    asyncio.run(_execute(superuser_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _execute(superuser_url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE cannot run inside one)."""
    connection = await asyncpg.connect(with_scheme(superuser_url, "postgresql"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
