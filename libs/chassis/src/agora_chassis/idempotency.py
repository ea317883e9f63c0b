"""Idempotency keys: the answer to a creating request, stored in the request's own transaction.

A service declares ``class IdempotencyRecord(IdempotencyRecordMixin, Base): __tablename__ =
"idempotency_records"`` and guards its creating routes with
:class:`agora_chassis.idempotency_api.IdempotencyKey` (the HTTP side). This module is the
storage side: one row per (caller, route, key), claimed at the start of the request and completed
with the response's status, body and replayable headers before the transaction commits, so a
crash leaves neither the resource nor the record (ADR 0021).

Concurrency: a second INSERT on a unique key that another open transaction has just inserted
waits for that transaction to end (PostgreSQL's speculative insertion). A duplicate must not
wait out the first request; it must hear 409 at once. So every claim first takes a
transaction-scoped advisory lock named by the (caller, route, key) hash with
``pg_try_advisory_xact_lock``: the request that holds it is the only one working on that key;
one that cannot get it answers 409 without touching the table. The lock ends with the
transaction (commit or rollback), after the commit is visible, so whoever gets it next reads the
committed record (or none, after a rollback).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from sqlalchemy import LargeBinary, String, UniqueConstraint, delete, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from agora_chassis.db import utcnow
from agora_chassis.errors import AgoraError, BadRequest, Conflict, ValidationFailed
from agora_chassis.ids import new_id

KEY_MAX_LENGTH = 255
CALLER_MAX_LENGTH = 255
ROUTE_MAX_LENGTH = 255
FINGERPRINT_LENGTH = 64  # SHA-256, hex
LOCK_KEY_BYTES = 8  # pg_try_advisory_xact_lock takes a signed 64-bit key
IN_PROGRESS_RETRY_AFTER_SECONDS = 1


class IdempotencyRecordMixin:
    """Columns of an idempotency table: one row per (caller, route, key) while it lives.

    ``status_code`` is ``None`` only inside the transaction that claimed the key: it is set,
    with the body and headers, before that transaction commits.
    """

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    caller: Mapped[str] = mapped_column(String(CALLER_MAX_LENGTH))
    route: Mapped[str] = mapped_column(String(ROUTE_MAX_LENGTH))
    key: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(FINGERPRINT_LENGTH))
    status_code: Mapped[int | None]
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)  # pruned by it

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        """The unique (caller, route, key) every claim conflicts on."""
        return (UniqueConstraint("caller", "route", "key"),)


class IdempotencyKeyMissing(AgoraError):
    """A route that requires an ``Idempotency-Key`` got none (428)."""

    status = HTTPStatus.PRECONDITION_REQUIRED
    title = "Idempotency-Key required"


class IdempotencyKeyMalformed(BadRequest):
    """The ``Idempotency-Key`` is empty, too long or not printable ASCII (400)."""

    title = "Malformed Idempotency-Key"


class IdempotencyKeyInProgress(Conflict):
    """A request with the same key is still running (409, ``Retry-After``)."""

    title = "Request in progress"

    def __init__(self) -> None:
        super().__init__(
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            headers={"Retry-After": str(IN_PROGRESS_RETRY_AFTER_SECONDS)},
        )


class IdempotencyKeyReused(ValidationFailed):
    """The key was used before for a different request (422)."""

    title = "Idempotency-Key reused"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was used for a different request; use a new key for it."
        )


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """What identifies a request under an idempotency key, and what it must match.

    Attributes:
        caller: Who sent it (the principal's subject: a user id, or a client id).
        route: Method and route template (``POST /api/v1/products``).
        key: The ``Idempotency-Key``.
        fingerprint: SHA-256 (hex) of the concrete path, query string and raw body.
    """

    caller: str
    route: str
    key: str
    fingerprint: str

    def lock_key(self) -> int:
        """The signed 64-bit advisory-lock key of (caller, route, key)."""
        name = "\n".join((self.caller, self.route, self.key)).encode()
        digest = hashlib.sha256(name).digest()[:LOCK_KEY_BYTES]
        return int.from_bytes(digest, "big", signed=True)


def fingerprint(path: str, query: str, body: bytes) -> str:
    """SHA-256 (hex) of what makes a request the same request: path, query string and raw body.

    The route template alone would let one key cover ``/products/1/stock`` and
    ``/products/2/stock``; the concrete path tells them apart. The body is hashed as sent (no
    JSON normalisation), as a retry sends the same bytes.
    """
    digest = hashlib.sha256()
    for part in (path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no ambiguous joins
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response as kept for replay.

    Attributes:
        status_code: Its HTTP status.
        body: Its body, byte for byte.
        headers: The headers worth replaying (``content-type``, ``location``, ``etag``).
    """

    status_code: int
    body: bytes
    headers: dict[str, str]


async def try_lock(session: AsyncSession, request: IdempotentRequest) -> bool:
    """Take the key's transaction-scoped advisory lock without waiting.

    Returns:
        ``True`` when this transaction now holds it (until it ends), ``False`` when another does.
    """
    locked = await session.scalar(select(func.pg_try_advisory_xact_lock(request.lock_key())))
    return bool(locked)


async def claim(
    session: AsyncSession,
    model: type[IdempotencyRecordMixin],
    request: IdempotentRequest,
    *,
    ttl: dt.timedelta,
    now: dt.datetime | None = None,
) -> uuid.UUID | None:
    """Insert the in-progress record, or take over an expired one; call with the lock held.

    Returns:
        The record's id when this request owns the key now; ``None`` when a live record exists
        (read it with :func:`find`).
    """
    now = now or utcnow()
    values = {
        "caller": request.caller,
        "route": request.route,
        "key": request.key,
        "request_hash": request.fingerprint,
        "status_code": None,
        "response_body": None,
        "response_headers": None,
        "created_at": now,
        "expires_at": now + ttl,
    }
    inserting = insert(model).values(id=new_id(), **values)
    statement = inserting.on_conflict_do_update(
        index_elements=["caller", "route", "key"],
        set_={name: inserting.excluded[name] for name in values},
        where=model.expires_at <= now,  # only an expired record is overwritten
    ).returning(model.id)
    return (await session.execute(statement)).scalar_one_or_none()


async def find(
    session: AsyncSession, model: type[IdempotencyRecordMixin], request: IdempotentRequest
) -> IdempotencyRecordMixin | None:
    """The record of (caller, route, key), if any."""
    statement = select(model).where(
        model.caller == request.caller, model.route == request.route, model.key == request.key
    )
    return (await session.scalars(statement)).one_or_none()


async def complete(
    session: AsyncSession,
    model: type[IdempotencyRecordMixin],
    record_id: uuid.UUID,
    response: StoredResponse,
) -> None:
    """Store the response on the claimed record, in the transaction that made it."""
    await session.execute(
        update(model)
        .where(model.id == record_id)
        .values(
            status_code=response.status_code,
            response_body=response.body,
            response_headers=response.headers,
        )
    )


async def release(
    session: AsyncSession, model: type[IdempotencyRecordMixin], record_id: uuid.UUID
) -> None:
    """Drop a claimed record whose request failed but whose transaction still commits."""
    await session.execute(delete(model).where(model.id == record_id))


async def prune_expired(
    session: AsyncSession, model: type[IdempotencyRecordMixin], *, now: dt.datetime | None = None
) -> int:
    """Delete the expired records (they are ignored anyway; this keeps the table small).

    Call it now and then in a transaction of its own, from a periodic job (a Kubernetes CronJob,
    a timer): ``async with sessionmaker.begin() as session: await prune_expired(session, M)``.

    Args:
        session: The transaction to delete in.
        model: The service's idempotency model.
        now: The current time (tests pass one).

    Returns:
        How many records were deleted.
    """
    result = await session.execute(delete(model).where(model.expires_at <= (now or utcnow())))
    return int(result.rowcount)  # type: ignore[attr-defined]
