"""``Idempotency-Key``: a retried creating request gets the first answer and creates nothing new."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import String, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agora_chassis.auth import Principal, get_principal
from agora_chassis.db import (
    TYPE_ANNOTATION_MAP,
    DbSession,
    UUIDPrimaryKey,
    create_engine,
    create_sessionmaker,
    make_metadata,
)
from agora_chassis.errors import Conflict, install_error_handlers
from agora_chassis.idempotency import IdempotencyRecordMixin, fingerprint, prune_expired
from agora_chassis.idempotency_api import IdempotencyKey, IdempotentRoute
from agora_chassis.idempotency_pruner import IdempotencyPruner
from agora_testing.state import attach_test_state

pytestmark = pytest.mark.integration

KEY = "3f1c8a2e-7d2b-4a8e-9a57-0c6f1d2b9e11"
ALICE = {"X-Caller": "alice", "Idempotency-Key": KEY}


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class Note(UUIDPrimaryKey, Base):
    __tablename__ = "notes"
    text: Mapped[str] = mapped_column(String(40))


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    __tablename__ = "idempotency_records"


class NoteCreate(BaseModel):
    text: str


class NoteRead(BaseModel):
    id: str
    text: str


class KeptConflict(Conflict):
    commit_changes = True


class Gate:
    """Holds a request inside its handler until the test lets it go."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()


async def caller_from_header(request: Request) -> Principal:
    """The test's principal: whoever ``X-Caller`` names."""
    return Principal(request.headers["x-caller"], frozenset(), frozenset(), {})


def _router(gate: Gate) -> APIRouter:
    router = APIRouter(prefix="/api/v1", route_class=IdempotentRoute)

    async def add_note(data: NoteCreate, session: DbSession, request: Request) -> Note:
        note = Note(text=data.text)
        session.add(note)
        await session.flush()
        if data.text == "hold":
            gate.entered.set()
            await gate.release.wait()
        failure = request.headers.get("x-fail")
        if failure == "plain":
            raise Conflict("refused")
        if failure == "keep":
            raise KeptConflict("refused, but the transaction commits")
        if failure == "crash":
            raise RuntimeError("bug after the write")
        return note

    @router.post(
        "/notes", status_code=201, dependencies=[Depends(IdempotencyKey(IdempotencyRecord))]
    )
    async def create_note(
        data: NoteCreate, session: DbSession, request: Request, response: Response
    ) -> NoteRead:
        note = await add_note(data, session, request)
        response.headers["Location"] = f"/api/v1/notes/{note.id}"
        response.headers["ETag"] = f'"{note.id.hex}"'
        return NoteRead(id=str(note.id), text=note.text)

    strict = IdempotencyKey(IdempotencyRecord, required=True)

    @router.post("/strict-notes", status_code=201, dependencies=[Depends(strict)])
    async def create_strict_note(
        data: NoteCreate, session: DbSession, request: Request
    ) -> dict[str, str]:
        note = await add_note(data, session, request)
        return {"id": str(note.id)}

    return router


@pytest.fixture(scope="module")
def database_url(make_database: Callable[[str], str]) -> str:
    return str(make_database("chassis_idempotency"))


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
async def app(engine: AsyncEngine, gate: Gate) -> FastAPI:
    async with engine.begin() as connection:
        await connection.execute(text("TRUNCATE notes, idempotency_records"))
    app = FastAPI()
    attach_test_state(app, sessionmaker=create_sessionmaker(engine))
    install_error_handlers(app)
    app.include_router(_router(gate))
    app.dependency_overrides[get_principal] = caller_from_header
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


async def _count(engine: AsyncEngine, model: type[Base]) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(model)) or 0)


async def test_idempotency_same_key_and_body_replays_the_first_answer(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    first = await client.post("/api/v1/notes", json={"text": "once"}, headers=ALICE)
    second = await client.post("/api/v1/notes", json={"text": "once"}, headers=ALICE)

    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    for header in ("location", "etag", "content-type"):
        assert second.headers[header] == first.headers[header]
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert await _count(engine, Note) == 1


async def test_idempotency_same_key_other_body_is_422(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await client.post("/api/v1/notes", json={"text": "first"}, headers=ALICE)

    response = await client.post("/api/v1/notes", json={"text": "second"}, headers=ALICE)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Idempotency-Key reused"
    assert await _count(engine, Note) == 1


async def test_idempotency_duplicate_while_first_runs_is_409_then_replays(
    client: httpx.AsyncClient, engine: AsyncEngine, gate: Gate
) -> None:
    first = asyncio.create_task(client.post("/api/v1/notes", json={"text": "hold"}, headers=ALICE))
    await asyncio.wait_for(gate.entered.wait(), timeout=5)

    try:
        duplicate = await asyncio.wait_for(
            client.post("/api/v1/notes", json={"text": "hold"}, headers=ALICE), timeout=5
        )
    finally:
        gate.release.set()  # a duplicate that blocked instead of answering must not hang the rest
    original = await first
    retried = await client.post("/api/v1/notes", json={"text": "hold"}, headers=ALICE)

    assert duplicate.status_code == 409
    assert duplicate.headers["retry-after"] == "1"
    assert duplicate.json()["title"] == "Request in progress"
    assert original.status_code == 201
    assert (retried.status_code, retried.content) == (201, original.content)
    assert await _count(engine, Note) == 1


@pytest.mark.parametrize(("failure", "status"), [("plain", 409), ("keep", 409), ("crash", 500)])
async def test_idempotency_failed_request_leaves_no_record_and_retry_runs(
    client: httpx.AsyncClient, engine: AsyncEngine, failure: str, status: int
) -> None:
    failed = await client.post(
        "/api/v1/notes", json={"text": "retry"}, headers={**ALICE, "X-Fail": failure}
    )
    records_after_failure = await _count(engine, IdempotencyRecord)
    retried = await client.post("/api/v1/notes", json={"text": "retry"}, headers=ALICE)

    assert failed.status_code == status
    assert records_after_failure == 0
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert await _count(engine, IdempotencyRecord) == 1


async def test_idempotency_other_callers_with_the_same_key_are_independent(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice = await client.post("/api/v1/notes", json={"text": "mine"}, headers=ALICE)
    bob = await client.post(
        "/api/v1/notes", json={"text": "mine"}, headers={**ALICE, "X-Caller": "bob"}
    )

    assert alice.status_code == bob.status_code == 201
    assert alice.json()["id"] != bob.json()["id"]
    assert "idempotent-replayed" not in bob.headers
    assert await _count(engine, Note) == 2


async def test_idempotency_other_route_with_the_same_key_is_independent(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await client.post("/api/v1/notes", json={"text": "a"}, headers=ALICE)

    response = await client.post("/api/v1/strict-notes", json={"text": "a"}, headers=ALICE)

    assert response.status_code == 201
    assert await _count(engine, Note) == 2


async def _expire_all(engine: AsyncEngine) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    async with engine.begin() as connection:
        await connection.execute(update(IdempotencyRecord).values(expires_at=past))


async def test_idempotency_expired_record_is_overwritten(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await client.post("/api/v1/notes", json={"text": "old"}, headers=ALICE)
    await _expire_all(engine)

    response = await client.post("/api/v1/notes", json={"text": "new"}, headers=ALICE)
    replayed = await client.post("/api/v1/notes", json={"text": "new"}, headers=ALICE)

    assert response.status_code == 201
    assert replayed.content == response.content
    assert await _count(engine, Note) == 2
    assert await _count(engine, IdempotencyRecord) == 1


async def test_idempotency_record_expires_after_the_configured_ttl(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await client.post("/api/v1/notes", json={"text": "ttl"}, headers=ALICE)

    async with engine.connect() as connection:
        row = (await connection.execute(select(IdempotencyRecord.__table__))).one()

    assert row.expires_at - row.created_at == dt.timedelta(hours=24)


async def test_prune_expired_deletes_only_expired_records(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await client.post("/api/v1/notes", json={"text": "a"}, headers=ALICE)
    await _expire_all(engine)
    await client.post(
        "/api/v1/notes", json={"text": "b"}, headers={**ALICE, "Idempotency-Key": "k2"}
    )

    async with create_sessionmaker(engine).begin() as session:
        pruned = await prune_expired(session, IdempotencyRecord)

    assert pruned == 1
    assert await _count(engine, IdempotencyRecord) == 1


async def test_idempotency_optional_key_absent_runs_unguarded(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    headers = {"X-Caller": "alice"}
    first = await client.post("/api/v1/notes", json={"text": "plain"}, headers=headers)
    second = await client.post("/api/v1/notes", json={"text": "plain"}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert await _count(engine, Note) == 2
    assert await _count(engine, IdempotencyRecord) == 0


async def test_idempotency_required_key_absent_is_428_naming_the_header(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    response = await client.post(
        "/api/v1/strict-notes", json={"text": "x"}, headers={"X-Caller": "alice"}
    )

    assert response.status_code == 428
    assert response.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key" in response.json()["detail"]
    assert await _count(engine, Note) == 0


@pytest.mark.parametrize("key", ["k" * 256, "tab\there", "caf\u00e9"])
async def test_idempotency_malformed_key_is_400(
    client: httpx.AsyncClient, engine: AsyncEngine, key: str
) -> None:
    headers = [(b"X-Caller", b"alice"), (b"Idempotency-Key", key.encode("latin-1"))]
    response = await client.post("/api/v1/notes", json={"text": "x"}, headers=headers)

    assert response.status_code == 400
    assert response.json()["title"] == "Malformed Idempotency-Key"
    assert await _count(engine, Note) == 0


async def test_idempotency_longest_key_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/notes", json={"text": "x"}, headers={**ALICE, "Idempotency-Key": "k" * 255}
    )

    assert response.status_code == 201


def test_idempotent_route_documents_the_header_and_its_answers(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    optional = paths["/api/v1/notes"]["post"]
    required = paths["/api/v1/strict-notes"]["post"]

    [header] = [p for p in optional["parameters"] if p["name"] == "Idempotency-Key"]
    assert (header["in"], header["required"]) == ("header", False)
    assert {"400", "409", "422"} <= set(optional["responses"])
    assert "428" not in optional["responses"]
    [strict_header] = [p for p in required["parameters"] if p["name"] == "Idempotency-Key"]
    assert strict_header["required"] is True
    assert "428" in required["responses"]


@pytest.mark.usefixtures("app")  # empty tables
async def test_idempotency_guard_without_the_route_class_fails_loudly(engine: AsyncEngine) -> None:
    app = FastAPI()
    attach_test_state(app, sessionmaker=create_sessionmaker(engine))
    install_error_handlers(app)
    app.dependency_overrides[get_principal] = caller_from_header

    @app.post("/plain", dependencies=[Depends(IdempotencyKey(IdempotencyRecord))])
    async def plain() -> dict[str, bool]:
        return {"ok": True}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/plain", headers=ALICE)

    assert response.status_code == 500
    assert await _count(engine, IdempotencyRecord) == 0


async def test_idempotency_record_committed_without_answer_is_409(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    now = dt.datetime.now(dt.UTC)
    stuck = IdempotencyRecord(
        caller="alice",
        route="POST /api/v1/notes",
        key=KEY,
        request_hash="",
        created_at=now,
        expires_at=now + dt.timedelta(hours=1),
    )
    async with create_sessionmaker(engine).begin() as session:
        session.add(stuck)
    wanted = await client.post("/api/v1/notes", json={"text": "x"}, headers=ALICE)
    async with create_sessionmaker(engine).begin() as session:
        stuck.request_hash = fingerprint("/api/v1/notes", "", b'{"text":"x"}')
        await session.merge(stuck)

    response = await client.post("/api/v1/notes", content=b'{"text":"x"}', headers=ALICE)

    assert wanted.status_code == 422  # another fingerprint
    assert response.status_code == 409
    assert await _count(engine, Note) == 0


@pytest.mark.usefixtures("app")  # empty tables
async def test_idempotency_streamed_answer_cannot_be_stored(engine: AsyncEngine) -> None:
    app = FastAPI()
    attach_test_state(app, sessionmaker=create_sessionmaker(engine))
    install_error_handlers(app)
    app.dependency_overrides[get_principal] = caller_from_header
    router = APIRouter(route_class=IdempotentRoute)

    @router.post("/stream", dependencies=[Depends(IdempotencyKey(IdempotencyRecord))])
    async def stream() -> StreamingResponse:
        return StreamingResponse(iter([b"chunk"]))

    app.include_router(router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/stream", headers=ALICE)

    assert response.status_code == 500
    assert await _count(engine, IdempotencyRecord) == 0


async def test_the_pruner_deletes_expired_records_in_the_background_until_stopped(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await client.post("/api/v1/notes", json={"text": "a"}, headers=ALICE)
    await _expire_all(engine)
    pruner = IdempotencyPruner(create_sessionmaker(engine), IdempotencyRecord, every=0.05)

    pruner.start()
    async with asyncio.timeout(10):
        while await _count(engine, IdempotencyRecord):  # noqa: ASYNC110 - polls a table
            await asyncio.sleep(0.05)
    await pruner.stop()
    await client.post(
        "/api/v1/notes", json={"text": "b"}, headers={**ALICE, "Idempotency-Key": "k3"}
    )
    await _expire_all(engine)
    await asyncio.sleep(0.3)

    assert await _count(engine, IdempotencyRecord) == 1, "a stopped pruner deletes nothing"
