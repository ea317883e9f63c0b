"""Async SQLAlchemy: the declarative base conventions, the engine, and the transaction scope.

The request (or message) scope owns the transaction: ``DbSession`` opens ``session.begin()``
before the endpoint runs and commits after it returns, *before* the response is sent, so a failed
commit is reported to the caller instead of being hidden behind a 2xx. Services and repositories
never call ``commit()``. Endpoints that only show rows take ``DbReader`` instead
(``agora_chassis.reader``: no session, no transaction, asyncpg directly; ADR 0018).

Round trips to PostgreSQL are much of a database-backed request's cost (each is a send, a wake-up
of the server, a receive): a pooled connection is pinged only after it sat idle (ADR 0012).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, Uuid, event, exc, func
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from agora_chassis.errors import DATABASE, AgoraError, DependencyUnavailable
from agora_chassis.ids import new_id
from agora_chassis.state import service_state

logger = logging.getLogger(__name__)

POOL_SIZE = 10
POOL_MAX_OVERFLOW = 0
POOL_RECYCLE_SECONDS = 1800
STATEMENT_TIMEOUT_MS = 30_000
# A connection back from the pool after this long unused is pinged before it is handed out; one
# used more recently is not (see _ping_if_idle).
PING_IF_IDLE_SECONDS = 10.0
_CHECKED_IN_AT = "agora.checked_in_at"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so Alembic migrations can drop and alter them by name."""

TYPE_ANNOTATION_MAP: dict[Any, Any] = {
    dt.datetime: DateTime(timezone=True),
    uuid.UUID: Uuid(),
}
"""Every ``Mapped[datetime]`` is stored as ``timestamptz`` (UTC), every UUID natively."""


def make_metadata() -> MetaData:
    """Return a ``MetaData`` with Agora's naming convention, one per service's ``Base``."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    """Return the current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


class UUIDPrimaryKey:
    """Mixin: a UUIDv7 primary key generated in Python (so it is known before the flush)."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class Timestamps:
    """Mixin: ``created_at`` and ``updated_at`` in UTC.

    Set in Python so the values are on the object right after a flush (a database-side
    ``onupdate`` would expire them and force a reload); the server default covers raw SQL inserts.
    """

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        default=utcnow, server_default=func.now(), onupdate=utcnow
    )


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the service's async engine with a bounded pool and a statement timeout.

    Args:
        url: A ``postgresql+asyncpg://`` URL.
        echo: Log every statement (development only).

    Returns:
        The engine; dispose of it on shutdown.
    """
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=POOL_SIZE,
        max_overflow=POOL_MAX_OVERFLOW,
        # Not SQLAlchemy's pre-ping: on asyncpg it is BEGIN, ";", ROLLBACK on every checkout,
        # three round trips, more than a primary-key read itself. _ping_if_idle pings only
        # connections that sat unused, and LIFO keeps handing out the recently used ones.
        pool_pre_ping=False,
        pool_use_lifo=True,
        pool_recycle=POOL_RECYCLE_SECONDS,
        connect_args={"server_settings": {"statement_timeout": str(STATEMENT_TIMEOUT_MS)}},
    )
    event.listen(engine.sync_engine, "do_connect", _connect_or_unavailable)
    event.listen(engine.sync_engine.pool, "checkin", _note_checkin)
    event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
    return engine


def _note_checkin(_dbapi_connection: object, record: ConnectionPoolEntry) -> None:
    record.info[_CHECKED_IN_AT] = time.monotonic()


def _ping_if_idle(
    dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    """Ping a connection that sat in the pool for :data:`PING_IF_IDLE_SECONDS` or longer.

    What pre-ping is for: a server restart, or a firewall dropping idle connections, leaves dead
    connections in the pool, and the first request to get one would fail. Those happen to idle
    connections; a connection used a moment ago that died since fails its statement, SQLAlchemy
    sees the disconnect and invalidates the whole pool, so one request (answered 503 with
    ``Retry-After``, see ``errors``) pays for it instead of every request paying three round trips.
    A dead one raises ``DisconnectionError``, on which the pool connects anew (up to three times).
    """
    checked_in_at = record.info.get(_CHECKED_IN_AT)
    if checked_in_at is None or time.monotonic() - checked_in_at < PING_IF_IDLE_SECONDS:
        return  # new, or used a moment ago
    try:
        dbapi_connection.ping()
    except Exception as error:
        raise exc.DisconnectionError(f"an idle pooled connection is gone: {error}") from error


def _connect_or_unavailable(
    dialect: Dialect, _record: object, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    """Open a driver connection; a refused or timed-out connect is :class:`DependencyUnavailable`.

    asyncpg raises the socket's ``OSError`` (or ``TimeoutError``) as it is, and SQLAlchemy wraps
    only driver errors, so without this a stopped database would surface as a bare
    ``ConnectionRefusedError``: indistinguishable from any other socket's and answered 500.
    """
    try:
        return dialect.connect(*cargs, **cparams)
    except (OSError, TimeoutError) as exc:
        raise DependencyUnavailable(DATABASE, f"cannot connect: {exc}") from exc


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory; objects stay usable after commit for response serialising."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


Session = AsyncSession
"""A transaction's session as a gRPC servicer or an event handler passes it on (to the wiring).

Those modules name the session types through the chassis and never import SQLAlchemy: an
import-linter contract keeps SQL out of routes, servicers and handlers.
"""

SessionFactory = async_sessionmaker[AsyncSession]
"""What a gRPC servicer or a consumer holds to open its own transactions."""


_AFTER_COMMIT = "agora.after_commit"

AfterCommitHook = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, hook: AfterCommitHook) -> None:
    """Run ``hook`` after the session's transaction commits (never after a rollback).

    For effects outside the database that must not run before the change is visible, such as
    dropping a cache entry: dropped earlier, a concurrent reader could cache the old row again.
    The transaction's owner (``DbSession``, the event consumer) runs the hooks.

    Args:
        session: The session of the current transaction.
        hook: A coroutine function; its failure is logged, never raised.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(hook)


async def run_after_commit(session: AsyncSession) -> None:
    """Run (and forget) the hooks registered with :func:`after_commit`, after a commit.

    Args:
        session: The session whose transaction just committed.
    """
    for hook in session.info.pop(_AFTER_COMMIT, []):
        try:
            await hook()
        except Exception:  # the data is committed; a failed side effect must not turn into a 500
            logger.exception("an after-commit hook failed")


def _has_work(session: AsyncSession) -> bool:
    """Whether the session began a transaction or holds changes to flush.

    A request that never touched the database (a cache hit) has nothing to end: skipping the
    commit saves its greenlet switch, a measurable share of a cached read.
    """
    return bool(session.in_transaction() or session.new or session.dirty or session.deleted)


async def transaction(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a session inside one transaction for the whole request.

    Commits when the endpoint returns, rolls back when it raises, except for an ``AgoraError``
    with ``commit_changes`` set, whose side effects are committed before it is answered.
    Registered with ``scope="function"`` (see ``DbSession``) so this happens before the response is
    sent.

    Args:
        request: The current request; its app's ``ServiceState`` holds the session factory.

    Yields:
        The transaction's session.
    """
    sessionmaker = service_state(request).sessionmaker
    session = sessionmaker()
    try:
        yield session
    except AgoraError as exc:
        await (session.commit() if exc.commit_changes else session.rollback())
        session.info.pop(_AFTER_COMMIT, None)
        raise
    except BaseException:
        if _has_work(session):
            await session.rollback()
        raise
    else:
        if _has_work(session):
            await session.commit()
        await run_after_commit(session)
    finally:
        if session.in_transaction():  # only when ending it failed
            await session.close()


DbSession = Annotated[AsyncSession, Depends(transaction, scope="function")]
"""Inject this into endpoints that read or write the database."""
