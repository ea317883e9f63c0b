"""Reads without the ORM or SQLAlchemy's execution: a SELECT compiled once, run on asyncpg.

An endpoint that only shows rows (a profile, a page of a list) takes ``reader: DbReader`` and
calls ``await reader.fetch_one(STATEMENT, user_id=...)``. The statement is SQLAlchemy Core, built
once at import with named ``bindparam``\\ s; the reader compiles it to PostgreSQL's ``$1`` form the
first time it sees it and then hands that text straight to an asyncpg pool, whose connections
keep it as a prepared statement. Rows come back as plain dicts of the driver's values, ready for
``Model.model_validate``.

Why (ADR 0018): on the 2-core bench machine, GET /users/me cost identity 1,330 µs of CPU through
an ``AsyncSession`` (a generator dependency, session state, a pool checkout in a greenlet, the
ORM-enabled execution path, result processing) against 290 µs for the same route without the
query. Running the same SELECT on an asyncpg pool cost about 170 µs more than no query at all.

What it does not do, by design:

- No transaction: each statement runs on its own (autocommit), so two reads in one request may
  see different snapshots. An endpoint that needs one snapshot reads through ``DbSession``.
- No writes: it runs what it is given, so pass it SELECTs; writes belong in a transaction.
- No type processing: parameters go to asyncpg as they are (``uuid.UUID``, ``str``, ``int``,
  ``datetime``, lists; an ``Enum`` as its ``.value``) and values come back as asyncpg decodes
  them (JSON and JSONB decoded like SQLAlchemy does). A list parameter is written
  ``column == any_(bindparam("ids"))``, not ``in_()``, whose SQL depends on the list's length.

Errors are SQLAlchemy's, so the chassis answers them as it answers a session's: a lost or refused
server is ``DependencyUnavailable`` (503 with ``Retry-After``), a driver error is a ``DBAPIError``
(a data exception 400, others 500). A read that finds its pooled connection dead (the server
restarted while it sat idle) is retried once on a new one: a read can safely run twice.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import Select
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.exc import DBAPIError

from agora_chassis.db import STATEMENT_TIMEOUT_MS
from agora_chassis.errors import DATABASE, DependencyUnavailable
from agora_chassis.state import service_state

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

READER_POOL_SIZE = 10
"""Connections per process. A connection is held from the query's send until the busy event loop
gets round to its answer, a few milliseconds under load: at 2,200 reads/s with 32 in flight, 5
connections put GET /users/me's p99 through the gateway at 84-86 ms, 10 at 50-59 ms (ADR 0018)."""
APPLICATION_NAME = "agora-reader"
"""How the reader's connections show in ``pg_stat_activity``."""
IDLE_CONNECTION_SECONDS = 60.0
"""A pooled connection unused this long is closed (``max_inactive_connection_lifetime``)."""

Row = dict[str, Any]
Run = Callable[[str, Sequence[Any]], Awaitable[list[Row]]]
"""Runs compiled SQL with positional arguments and returns its rows as dicts."""

# The engine's dialect, without an engine: compiling needs no connection or server version.
_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    values: dict[str, Any]
    required: frozenset[str]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        if missing := self.required - params.keys():
            raise TypeError(f"no value for bind parameter(s) {sorted(missing)} of: {self.sql}")
        merged = {**self.values, **params}
        return [merged[name] for name in self.names]


_compiled: weakref.WeakKeyDictionary[Select[Any], _Compiled] = weakref.WeakKeyDictionary()


def _compile(statement: Select[Any]) -> _Compiled:
    """The statement as asyncpg's SQL, compiled once per statement object.

    A statement built at import is compiled on first use only; one built per call (a filter
    that depends on the request) is compiled each time and forgotten with the statement.
    """
    if not isinstance(statement, Select):  # the pool keeps no session state (_keep_session)
        raise TypeError(f"a Reader runs SELECTs only, not {type(statement).__name__}")
    found = _compiled.get(statement)
    if found is None:
        form = statement.compile(dialect=_DIALECT)
        if "POSTCOMPILE" in form.string:
            raise ValueError(f"use `col == any_(bindparam(...))` rather than in_(): {form.string}")
        binds = form.binds.values()
        found = _Compiled(
            sql=form.string,
            names=tuple(form.positiontup or ()),
            values=dict(form.params),
            required=frozenset(bind.key for bind in binds if bind.required),
        )
        _compiled[statement] = found
    return found


class Reader:
    """Runs SELECTs for requests that only read; see the module docstring for when to use it."""

    def __init__(self, run: Run, close: Callable[[], Awaitable[None]] | None = None) -> None:
        self._run = run
        self._close = close

    @classmethod
    def for_url(cls, url: str, *, size: int = READER_POOL_SIZE) -> Reader:
        """A reader on its own asyncpg pool, opened at the first read (nothing connects now).

        Args:
            url: The service's ``postgresql+asyncpg://`` URL.
            size: The most connections it opens.
        """
        pool = _LazyPool(url, size)
        return cls(pool.run, pool.close)

    @classmethod
    def on_connection(cls, connection: AsyncConnection) -> Reader:
        """A reader that runs in ``connection``'s transaction (a test's rolled-back one).

        Args:
            connection: An open SQLAlchemy connection; the reader neither begins nor ends its
                transaction.
        """

        async def run(sql: str, arguments: Sequence[Any]) -> list[Row]:
            result = await connection.exec_driver_sql(sql, tuple(arguments))
            return [dict(row) for row in result.mappings()]

        return cls(run)

    async def fetch(self, statement: Select[Any], **params: Any) -> list[Row]:
        """Every row of ``statement``, with ``params`` for its named ``bindparam``\\ s."""
        form = _compile(statement)
        return await self._run(form.sql, form.arguments(params))

    async def fetch_one(self, statement: Select[Any], **params: Any) -> Row | None:
        """The first row of ``statement`` (``None`` when there is none)."""
        rows = await self.fetch(statement, **params)
        return rows[0] if rows else None

    async def scalar(self, statement: Select[Any], **params: Any) -> Any:
        """The first column of the first row (``None`` when there is no row)."""
        row = await self.fetch_one(statement, **params)
        return next(iter(row.values())) if row else None

    async def aclose(self) -> None:
        """Close the reader's pool, if it has one (on shutdown)."""
        if self._close is not None:
            await self._close()


class _LazyPool:
    """An asyncpg pool created by the first read, inside the running event loop."""

    def __init__(self, url: str, size: int) -> None:
        # asyncpg takes a plain libpq URL: the same server, user and password as the engine's.
        self._url = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._size = size
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def run(self, sql: str, arguments: Sequence[Any]) -> list[Row]:
        pool = self._pool or await self._open()
        try:
            try:
                records = await pool.fetch(sql, *arguments)
            except STALE_CONNECTION:
                # The server closed this pooled connection while it sat idle (a restart, an
                # operator's pg_terminate_backend): the pool's other idle connections are likely
                # gone too, so every one is replaced at its next use, and the read runs again on
                # a fresh connection. A second failure means the server is gone.
                await pool.expire_connections()
                records = await pool.fetch(sql, *arguments)
        except STALE_CONNECTION as exc:
            raise DBAPIError(sql, tuple(arguments), exc, connection_invalidated=True) from exc
        except asyncpg.PostgresError as exc:
            raise DBAPIError(sql, tuple(arguments), exc) from exc
        except (OSError, TimeoutError) as exc:
            raise DependencyUnavailable(DATABASE, f"cannot connect: {exc}") from exc
        return [dict(record) for record in records]

    async def _open(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._url,
                    min_size=0,
                    max_size=self._size,
                    max_inactive_connection_lifetime=IDLE_CONNECTION_SECONDS,
                    server_settings={
                        "statement_timeout": str(STATEMENT_TIMEOUT_MS),
                        "application_name": APPLICATION_NAME,
                    },
                    init=_set_codecs,
                    reset=_keep_session,
                )
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


STALE_CONNECTION = (asyncpg.ConnectionDoesNotExistError, asyncpg.InternalClientError)
"""A pooled connection the server closed while it sat idle. Usually asyncpg sees the closed
socket (``ConnectionDoesNotExistError``); when the server's termination notice is still being
read as the next query starts, asyncpg refuses that query with ``InternalClientError`` ("another
operation is in progress") instead: the same stale connection, met a moment earlier (seen in CI
under load)."""


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is, without asyncpg's reset query.

    asyncpg's default sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on
    every release: a second round trip per read, 9% of GET /users/me's samples (py-spy, ADR 0018).
    It undoes session state; this pool's connections have none to undo, because they only ever
    run the single SELECTs :meth:`Reader.fetch` accepts (see ``test_reader.py``).
    """


async def _set_codecs(connection: asyncpg.Connection) -> None:
    """Decode JSON and JSONB into Python values, as SQLAlchemy's asyncpg dialect does."""
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def db_reader(request: Request) -> Reader:
    """FastAPI dependency: the app's :class:`Reader` (process-wide; nothing to clean up after).

    Not a generator: it holds no connection across the request (each statement borrows one), so
    FastAPI has no exit stack to run for it. And ``async``: FastAPI runs a plain ``def``
    dependency in a worker thread.
    """
    return service_state(request).reader


DbReader = Annotated[Reader, Depends(db_reader)]
"""Inject this into endpoints (or their read services) that only show rows."""
