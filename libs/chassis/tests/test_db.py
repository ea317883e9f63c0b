"""The request transaction: commit on success, rollback on error, commit before the response."""

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import String, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agora_chassis.db import (
    TYPE_ANNOTATION_MAP,
    DbSession,
    Timestamps,
    UUIDPrimaryKey,
    after_commit,
    create_engine,
    create_sessionmaker,
    make_metadata,
)
from agora_chassis.errors import Conflict, install_error_handlers
from agora_testing.state import attach_test_state

pytestmark = pytest.mark.integration


SEEN_AFTER_COMMIT: list[list[str]] = []  # what the after-commit hook saw (reset per client)


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class Note(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "notes"
    body: Mapped[str] = mapped_column(String(20), unique=True)


class KeptConflict(Conflict):
    commit_changes = True


@pytest.fixture(scope="module")
def database_url(make_database: Callable[[str], str]) -> str:
    return str(make_database("chassis_db"))


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def client(engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM notes"))
    app = FastAPI()
    attach_test_state(app, sessionmaker=create_sessionmaker(engine))
    install_error_handlers(app)

    seen = SEEN_AFTER_COMMIT
    seen.clear()

    async def record_committed() -> None:  # reads through another connection: sees commits only
        seen.append(await _bodies(engine))

    async def broken_hook() -> None:
        raise RuntimeError("cache down")

    @app.post("/notes/{body}", status_code=201)
    async def add(body: str, session: DbSession, fail: str = "") -> dict[str, str]:
        note = Note(body=body)
        session.add(note)
        await session.flush()
        after_commit(session, broken_hook)
        after_commit(session, record_committed)
        if fail == "plain":
            raise Conflict("refused")
        if fail == "keep":
            raise KeptConflict("refused, but the note stays")
        if fail == "crash":
            raise RuntimeError("bug after the write")
        return {"id": str(note.id), "created_at": note.created_at.isoformat()}

    _add_lazy_routes(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


def _add_lazy_routes(app: FastAPI) -> None:
    """Routes that leave the session alone, or only add to it (no flush, no query)."""

    @app.get("/untouched")
    async def untouched(session: DbSession, fail: str = "") -> dict[str, bool]:
        if fail:
            raise RuntimeError("bug before any query")
        return {"ok": True}

    @app.post("/unflushed/{body}", status_code=201)
    async def add_unflushed(body: str, session: DbSession) -> dict[str, bool]:
        session.add(Note(body=body))  # flushed by the commit, not here
        return {"ok": True}


async def _bodies(engine: AsyncEngine) -> list[str]:
    async with create_sessionmaker(engine)() as session:
        return list(await session.scalars(select(Note.body).order_by(Note.body)))


async def test_transaction_endpoint_returns_changes_are_committed(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    response = await client.post("/notes/kept")
    assert response.status_code == 201
    assert await _bodies(engine) == ["kept"]


async def test_transaction_domain_error_rolls_back(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    response = await client.post("/notes/gone", params={"fail": "plain"})
    assert response.status_code == 409
    assert await _bodies(engine) == []


async def test_transaction_error_with_commit_changes_keeps_changes(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    response = await client.post("/notes/audit", params={"fail": "keep"})
    assert response.status_code == 409
    assert await _bodies(engine) == ["audit"]


async def test_transaction_duplicate_at_flush_is_reported_as_conflict(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await client.post("/notes/twice")
    response = await client.post("/notes/twice")
    assert response.status_code == 409  # a unique violation (SQLSTATE class 23), not a success
    assert response.headers["content-type"] == "application/problem+json"
    assert await _bodies(engine) == ["twice"]


async def test_engine_applies_statement_timeout(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        timeout = await connection.scalar(text("SHOW statement_timeout"))
    assert timeout == "30s"


def test_create_engine_accepts_asyncpg_url_without_connecting() -> None:
    engine = create_async_engine("postgresql+asyncpg://u:p@127.0.0.1:1/x")
    assert engine.url.drivername == "postgresql+asyncpg"


async def test_transaction_after_commit_hooks_run_after_commit_despite_failing_one(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/notes/hooked")

    assert response.status_code == 201  # the failing hook is logged, not answered as a 500
    assert SEEN_AFTER_COMMIT == [["hooked"]]


async def test_transaction_after_commit_hooks_skipped_on_rollback(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/notes/refused?fail=plain")

    assert response.status_code == 409
    assert SEEN_AFTER_COMMIT == []


@pytest.fixture
def session_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the ``AsyncSession`` commits and rollbacks done from now on."""
    calls: list[str] = []
    for name in ("commit", "rollback"):
        original = getattr(AsyncSession, name)

        async def spy(
            session: AsyncSession,
            _name: str = name,
            _original: Callable[[AsyncSession], Awaitable[None]] = original,
        ) -> None:
            calls.append(_name)
            await _original(session)

        monkeypatch.setattr(AsyncSession, name, spy)
    return calls


async def test_transaction_request_never_touching_the_session_does_not_commit(
    client: httpx.AsyncClient, session_calls: list[str]
) -> None:
    response = await client.get("/untouched")

    assert response.status_code == 200
    assert session_calls == []


async def test_transaction_error_before_any_query_does_not_roll_back(
    client: httpx.AsyncClient, session_calls: list[str]
) -> None:
    response = await client.get("/untouched", params={"fail": "yes"})

    assert response.status_code == 500
    assert session_calls == []


async def test_transaction_added_but_unflushed_object_is_committed(
    client: httpx.AsyncClient, engine: AsyncEngine, session_calls: list[str]
) -> None:
    response = await client.post("/unflushed/lazy")

    assert response.status_code == 201
    assert session_calls == ["commit"]
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await _bodies(engine) == ["lazy"]


async def test_transaction_unexpected_error_after_write_rolls_back(
    client: httpx.AsyncClient, engine: AsyncEngine, session_calls: list[str]
) -> None:
    response = await client.post("/notes/crashed", params={"fail": "crash"})

    assert response.status_code == 500
    assert session_calls == ["rollback"]
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await _bodies(engine) == []


async def test_transaction_failing_commit_answers_conflict_and_returns_the_connection(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await client.post("/unflushed/twice")

    response = await client.post("/unflushed/twice")  # the unique violation surfaces at commit

    assert response.status_code == 409
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await _bodies(engine) == ["twice"]
