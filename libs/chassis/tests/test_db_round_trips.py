"""What a request sends to PostgreSQL (ADR 0012), counted on a real server: the statements
SQLAlchemy executes plus what asyncpg sends on its own (BEGIN, COMMIT, ROLLBACK, the ping)."""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import String, event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agora_chassis import db
from agora_chassis.db import (
    TYPE_ANNOTATION_MAP,
    DbSession,
    UUIDPrimaryKey,
    create_engine,
    create_sessionmaker,
    make_metadata,
)
from agora_chassis.errors import install_error_handlers
from agora_testing.state import attach_test_state

pytestmark = pytest.mark.integration


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class Item(UUIDPrimaryKey, Base):
    __tablename__ = "items"
    name: Mapped[str] = mapped_column(String(20))


@pytest.fixture(scope="module")
def database_url(make_database: Callable[[str], str]) -> str:
    return str(make_database("chassis_round_trips"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A fresh engine per test, so every pooled connection carries the recorder."""
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
        await connection.execute(text("DELETE FROM items"))
    await engine.dispose()  # the recorder (``sent``) must see every connection from here on
    yield engine
    await engine.dispose()


@pytest.fixture
def sent(engine: AsyncEngine) -> list[str]:
    """Everything sent to the server from now on, first word upper-cased (``SELECT``, ``BEGIN``)."""
    record: list[str] = []

    def on_query(logged: Any) -> None:  # asyncpg's own: BEGIN, COMMIT, ROLLBACK, ";" (the ping)
        words = logged.query.replace(";", " ").split()
        record.append(words[0].upper() if words else ";")

    def on_connect(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.driver_connection.add_query_logger(on_query)

    def on_execute(*args: Any) -> None:  # SQLAlchemy's statements (prepared, not logged above)
        record.append(args[2].split()[0].upper())

    event.listen(engine.sync_engine.pool, "connect", on_connect)
    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    return record


async def settled(sent: list[str]) -> list[str]:
    """``sent`` once asyncpg has delivered its log callbacks (scheduled on the loop), sorted."""
    await asyncio.sleep(0.05)
    return sorted(sent)


@pytest.fixture
async def item(engine: AsyncEngine, sent: list[str]) -> Item:
    async with create_sessionmaker(engine).begin() as session:
        found = Item(name="one")
        session.add(found)
    return found


@pytest.fixture
async def client(engine: AsyncEngine, sent: list[str]) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    attach_test_state(app, sessionmaker=create_sessionmaker(engine))
    install_error_handlers(app)

    @app.get("/in-transaction/{name}")
    async def in_transaction(name: str, session: DbSession) -> int:
        return len((await session.scalars(select(Item).where(Item.name == name))).all())

    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


async def test_a_request_transaction_on_a_warm_pool_sends_no_ping(
    client: httpx.AsyncClient, item: Item, sent: list[str]
) -> None:
    assert (await client.get("/in-transaction/one")).json() == 1
    await settled(sent)
    sent.clear()

    response = await client.get("/in-transaction/one")

    assert response.json() == 1
    assert await settled(sent) == ["BEGIN", "COMMIT", "SELECT"], f"a DbSession read sent {sent}"


async def test_a_connection_idle_for_a_while_is_pinged_and_replaced_when_dead(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    item: Item,
    sent: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (await client.get("/in-transaction/one")).json() == 1
    async with engine.connect() as other:  # the pooled connection dies behind the pool's back
        await other.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    monkeypatch.setattr(db, "PING_IF_IDLE_SECONDS", 0.0)  # every pooled connection counts as idle
    await settled(sent)
    sent.clear()

    response = await client.get("/in-transaction/one")

    assert response.status_code == 200, f"a dead idle connection was handed out: {response.text}"
    assert ";" in await settled(sent), f"the idle connection was not pinged: {sent}"
