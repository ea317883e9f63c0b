"""The chassis ``Reader`` (ADR 0018) on a real PostgreSQL: rows, parameters, errors, pooling."""

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    any_,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from agora_chassis.db import create_engine
from agora_chassis.errors import DependencyUnavailable, install_error_handlers
from agora_chassis.reader import DbReader, Reader
from agora_cli.infra.ports import free_port
from agora_testing.state import attach_test_state

pytestmark = pytest.mark.integration

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(40), nullable=False),
    Column("tags", ARRAY(String)),
    Column("details", JSONB),
    Column("extra", JSON),
    Column("rank", Integer),
    Column("made_at", DateTime(timezone=True)),
)
FIRST, SECOND = uuid.uuid4(), uuid.uuid4()
MADE_AT = dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC)
BY_ID = select(things.c.id, things.c.name).where(things.c.id == bindparam("thing_id"))
BY_IDS = select(things.c.name).where(things.c.id == any_(bindparam("ids"))).order_by(things.c.name)


@pytest.fixture(scope="module")
def database_url(make_database: Callable[[str], str]) -> str:
    return str(make_database("chassis_reader"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(things.delete())
        await connection.execute(
            things.insert(),
            [
                {"id": FIRST, "name": "anvil", "tags": ["iron", "heavy"], "details": {"kg": 50},
                 "extra": [1, 2], "rank": 1, "made_at": MADE_AT},
                {"id": SECOND, "name": "bellows", "tags": [], "details": None, "extra": None,
                 "rank": 2, "made_at": MADE_AT},
            ],
        )  # fmt: skip
    yield engine
    await engine.dispose()


@pytest.fixture
async def reader(database_url: str, engine: AsyncEngine) -> AsyncIterator[Reader]:
    reader = Reader.for_url(database_url)
    yield reader
    await reader.aclose()


async def test_rows_come_back_as_dicts_of_driver_values(reader: Reader) -> None:
    row = await reader.fetch_one(
        select(things).where(things.c.id == bindparam("thing_id")), thing_id=FIRST
    )

    assert row == {
        "id": FIRST,
        "name": "anvil",
        "tags": ["iron", "heavy"],
        "details": {"kg": 50},
        "extra": [1, 2],
        "rank": 1,
        "made_at": MADE_AT,
    }, f"read {row}"


async def test_fetch_fetch_one_and_scalar_on_one_statement(reader: Reader) -> None:
    assert await reader.fetch_one(BY_ID, thing_id=SECOND) == {"id": SECOND, "name": "bellows"}
    assert await reader.fetch_one(BY_ID, thing_id=uuid.uuid4()) is None
    assert await reader.fetch(BY_IDS, ids=[FIRST, SECOND]) == [
        {"name": "anvil"},
        {"name": "bellows"},
    ]
    assert await reader.scalar(select(func.count()).select_from(things)) == 2
    assert await reader.scalar(BY_ID, thing_id=uuid.uuid4()) is None


async def test_values_written_into_a_statement_are_sent_with_it(reader: Reader) -> None:
    page = (
        select(things.c.name).where(things.c.rank >= 1).order_by(things.c.rank).offset(1).limit(5)
    )

    assert await reader.fetch(page) == [{"name": "bellows"}]


async def test_a_missing_parameter_is_named(reader: Reader) -> None:
    with pytest.raises(TypeError, match="thing_id"):
        await reader.fetch(BY_ID)


async def test_in_with_a_list_is_refused_with_the_alternative(reader: Reader) -> None:
    with pytest.raises(ValueError, match="any_"):
        await reader.fetch(select(things.c.name).where(things.c.id.in_([FIRST, SECOND])))


async def test_statements_run_with_the_chassis_statement_timeout(reader: Reader) -> None:
    assert await reader.scalar(select(func.current_setting("statement_timeout"))) == "30s"


async def test_a_reader_on_a_connection_sees_its_uncommitted_rows(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.begin()
        await connection.execute(things.insert().values(id=uuid.uuid4(), name="crucible"))
        reader = Reader.on_connection(connection)

        names = await reader.fetch(select(things.c.name).order_by(things.c.name))
        await connection.rollback()

    assert [row["name"] for row in names] == ["anvil", "bellows", "crucible"], names


async def test_a_driver_error_is_sqlalchemys_with_its_sqlstate(reader: Reader) -> None:
    with pytest.raises(DBAPIError) as caught:
        await reader.fetch(
            BY_ID.where(things.c.name == bindparam("name")), thing_id=FIRST, name="a\x00"
        )

    assert caught.value.orig is not None
    assert getattr(caught.value.orig, "sqlstate", "").startswith("22"), caught.value


async def test_a_connection_killed_while_idle_is_replaced_and_the_read_retried(
    reader: Reader, engine: AsyncEngine
) -> None:
    assert await reader.fetch_one(BY_ID, thing_id=FIRST) is not None  # one pooled connection now
    async with engine.connect() as other:
        killed = await other.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert killed, "no pooled connection to kill"

    assert await reader.fetch_one(BY_ID, thing_id=FIRST) == {"id": FIRST, "name": "anvil"}


async def test_every_idle_connection_killed_still_answers_the_next_read(
    reader: Reader, engine: AsyncEngine
) -> None:
    slow = select(func.pg_sleep(0.2).label("slept"))
    await asyncio.gather(*(reader.fetch(slow) for _ in range(3)))  # three pooled connections
    async with engine.connect() as other:
        killed = await other.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert killed >= 2, "fewer than two pooled connections to kill"

    # A server restart leaves every idle connection dead: the retry must not take another one.
    assert await reader.fetch_one(BY_ID, thing_id=FIRST) == {"id": FIRST, "name": "anvil"}


async def test_a_server_that_refuses_connections_is_a_dependency_outage() -> None:
    reader = Reader.for_url(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none")
    with pytest.raises(DependencyUnavailable) as caught:
        await reader.fetch(BY_ID, thing_id=FIRST)
    await reader.aclose()

    assert caught.value.dependency == "database"


async def test_an_endpoint_takes_the_apps_reader(reader: Reader) -> None:
    app = FastAPI()
    attach_test_state(app, reader=reader)
    install_error_handlers(app)

    @app.get("/things/{thing_id}")
    async def show(thing_id: uuid.UUID, rows: DbReader) -> object:
        return await rows.fetch_one(BY_ID, thing_id=thing_id)

    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        found = await client.get(f"/things/{FIRST}")

    assert found.json() == {"id": str(FIRST), "name": "anvil"}, found.text


async def test_a_reader_runs_selects_only(reader: Reader) -> None:
    for statement in (things.delete(), text("SET statement_timeout = 0")):
        with pytest.raises(TypeError, match="SELECTs only"):
            await reader.fetch(statement)  # type: ignore[arg-type]
    assert await reader.scalar(select(func.count()).select_from(things)) == 2, "it wrote"


async def test_a_read_is_one_statement_with_no_reset_after_it(
    reader: Reader, engine: AsyncEngine
) -> None:
    await reader.fetch_one(BY_ID, thing_id=FIRST)
    await reader.fetch_one(BY_ID, thing_id=SECOND)

    async with engine.connect() as other:
        last = await other.scalar(
            select(func.array_agg(text("query")))
            .select_from(text("pg_stat_activity"))
            .where(text("application_name = 'agora-reader' AND datname = current_database()"))
        )
    # An idle backend shows the last statement it ran: the read, not asyncpg's reset query.
    assert last, "no reader connection in pg_stat_activity"
    assert all(query.startswith("SELECT things.id") for query in last), last
