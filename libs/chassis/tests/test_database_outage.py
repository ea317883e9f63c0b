"""A real PostgreSQL stopped under a running app: its requests get 503 + Retry-After, not 500."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import bindparam, func, select, text

from agora_chassis.db import DbSession, create_engine, create_sessionmaker
from agora_chassis.errors import install_error_handlers
from agora_chassis.reader import DbReader, Reader
from agora_cli.infra.ports import free_port
from agora_cli.infra.postgres import EmbeddedPostgres
from agora_testing.state import attach_test_state

pytestmark = pytest.mark.integration

SCRATCH_MODE = 0o711  # under root the server runs as nobody, which must traverse the directory
QUERY_STARTED_POLL_SECONDS = 0.1
QUERY_STARTED_POLLS = 200  # 20 s at most, on a busy machine


@pytest.fixture
def postgres() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of this test's own: the test stops it (the shared one must keep running)."""
    scratch = Path(tempfile.mkdtemp(prefix="agora-pg-outage-"))
    scratch.chmod(SCRATCH_MODE)
    server = EmbeddedPostgres(scratch / "data", port=free_port(), log_file=scratch / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
async def client(postgres: EmbeddedPostgres) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine(postgres.superuser_url)
    reader = Reader.for_url(postgres.superuser_url)
    app = FastAPI()
    attach_test_state(app, sessionmaker=create_sessionmaker(engine), reader=reader)
    install_error_handlers(app)

    @app.get("/sleep/{seconds}")
    async def sleep(seconds: float, session: DbSession) -> float:
        await session.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": seconds})
        return seconds

    @app.get("/read-sleep/{seconds}")
    async def read_sleep(seconds: float, rows: DbReader) -> float:
        await rows.fetch(select(func.pg_sleep(bindparam("seconds"))), seconds=seconds)
        return seconds

    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client
    await engine.dispose()
    await reader.aclose()


async def _wait_for_running_query(postgres: EmbeddedPostgres) -> None:
    async def running() -> bool:
        rows = await asyncio.to_thread(
            postgres.psql,
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'",
        )
        return rows.strip() not in {"", "0"}

    for _ in range(QUERY_STARTED_POLLS):
        if await running():
            return
        await asyncio.sleep(QUERY_STARTED_POLL_SECONDS)
    raise AssertionError("the slow query never started")


@pytest.mark.parametrize("route", ["/sleep", "/read-sleep"], ids=["DbSession", "DbReader"])
async def test_database_stopped_during_and_before_requests_answers_503_with_retry_after(
    postgres: EmbeddedPostgres,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    route: str,
) -> None:
    assert (await client.get(f"{route}/0")).status_code == 200  # the pool holds a connection now
    caplog.set_level(logging.WARNING, logger="agora_chassis.errors")

    in_flight = asyncio.create_task(client.get(f"{route}/30"))
    await _wait_for_running_query(postgres)
    await asyncio.to_thread(postgres.stop)  # terminates the running query's session
    during = await in_flight
    after = await client.get(f"{route}/0")  # the pool must connect anew: refused

    assert (during.status_code, after.status_code) == (503, 503)
    assert during.headers["Retry-After"] == after.headers["Retry-After"] == "5"
    assert after.headers["Content-Type"] == "application/problem+json"
    messages = [r.getMessage() for r in caplog.records if r.name == "agora_chassis.errors"]
    assert len(messages) == 2
    assert all(message.startswith("dependency=database unreachable") for message in messages)
