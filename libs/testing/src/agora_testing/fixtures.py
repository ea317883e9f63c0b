"""Shared pytest fixtures for tests that need real servers (registered by the root conftest.py).

Environment variables (all optional):

``AGORA_TEST_DATABASE_URL``
    Superuser URL of a running PostgreSQL, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``.
    Unset: an embedded PostgreSQL starts on a free port for the session.
``AGORA_TEST_REDIS_URL``
    URL of a running Redis or Valkey, e.g. ``redis://127.0.0.1:6379/0``.
    Unset: an embedded Valkey starts on a free port for the session.
``AGORA_TEST_NATS_URL``
    URL of a running NATS server; read by the tests that need a broker.

Fixtures are session-scoped and lazy: a test session that never asks for a server starts none.
Under pytest-xdist every worker is its own session, so each gets its own embedded servers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import pytest

from agora_cli import testdb
from agora_cli.config import BLOCK_PORT_VARIABLES, PORT_VARIABLES
from agora_cli.infra.ports import free_port, free_ports

REDIS_URL_ENV = "AGORA_TEST_REDIS_URL"
NATS_URL_ENV = "AGORA_TEST_NATS_URL"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Superuser URL (``postgresql+asyncpg://``) of a PostgreSQL that lives for the session."""
    with testdb.postgres_superuser() as superuser_url:
        yield superuser_url


@pytest.fixture(scope="session")
def make_database(postgres_server: str) -> Iterator[Callable[[str], str]]:
    """A function ``make_database(name_prefix) -> url`` creating a fresh, empty database.

    Each call makes a new uniquely named database (``<name_prefix>_<random>``), so a service's
    tests can build their schema once per session without meeting another run's tables. On a
    server given by ``AGORA_TEST_DATABASE_URL`` the databases are dropped at session end; an
    embedded server is thrown away whole.
    """
    created: list[str] = []

    def make(name_prefix: str) -> str:
        url = testdb.create_database(postgres_server, name_prefix)
        created.append(url)
        return url

    yield make
    if os.environ.get(testdb.DATABASE_URL_ENV):
        for url in created:
            testdb.drop_database(postgres_server, url)


def stack_port_env(services: int) -> dict[str, str]:
    """Distinct free ports for every ``AGORA_*_PORT`` variable of a private test stack.

    Args:
        services: How many services the stack runs (each port block reserves that many).

    Returns:
        The variables and their ports, as strings.
    """
    variables = list(PORT_VARIABLES)
    counts = [services if name in BLOCK_PORT_VARIABLES else 1 for name in variables]
    return {name: str(port) for name, port in zip(variables, free_ports(counts), strict=True)}


def alembic_upgrade(database_url: str, alembic_ini: Path) -> None:
    """Migrate ``database_url`` to head with a service's own Alembic (as ``agora up`` does).

    Args:
        database_url: The (fresh) database.
        alembic_ini: The service's ``alembic.ini``.

    Raises:
        subprocess.CalledProcessError: The migration failed (its output is on the error).
    """
    subprocess.run(  # noqa: S603 - fixed argv: this interpreter running alembic
        [sys.executable, "-m", "alembic", "-c", str(alembic_ini), "upgrade", "head"],
        check=True,
        env=os.environ | {"AGORA_DATABASE_URL": database_url},
        capture_output=True,
    )


class _Server(Protocol):
    @property
    def url(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


@contextmanager
def _server_url(env_name: str, make: Callable[[Path], _Server]) -> Iterator[str]:
    """The URL in ``env_name`` if set, else an embedded server in a scratch dir for the block."""
    external = os.environ.get(env_name)
    if external:
        yield external
        return
    scratch = Path(tempfile.mkdtemp(prefix="agora-server-"))
    scratch.chmod(0o755)  # servers run as nobody when the tests run as root
    server = make(scratch)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a Redis-protocol server (Valkey when embedded) that lives for the session."""
    from agora_cli.infra.redis import EmbeddedRedis

    def make(scratch: Path) -> EmbeddedRedis:
        pid_file = scratch / "pid"
        return EmbeddedRedis(scratch / "data", free_port(), scratch / "server.log", pid_file)

    with _server_url(REDIS_URL_ENV, make) as url:
        yield url


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """URL of a NATS server with JetStream that lives for the session."""
    from agora_cli.infra.nats import EmbeddedNats

    def make(scratch: Path) -> EmbeddedNats:
        ports = free_port(count=2)
        return EmbeddedNats(
            scratch / "data", ports, ports + 1, scratch / "server.log", scratch / "pid"
        )

    with _server_url(NATS_URL_ENV, make) as url:
        yield url
