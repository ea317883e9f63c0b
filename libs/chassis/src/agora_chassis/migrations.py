"""Alembic's ``env.py`` for every service, written once.

A service's ``migrations/env.py`` is just::

    from agora_chassis.migrations import run_migrations
    from agora_identity.models import Base

    run_migrations(Base.metadata)

The database URL comes from ``AGORA_DATABASE_URL`` (the same variable the service reads).
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from agora_chassis.settings import ServiceSettings


def database_url() -> str:
    """The URL to migrate: ``AGORA_DATABASE_URL``, else the settings default."""
    return os.environ.get("AGORA_DATABASE_URL") or ServiceSettings().database_url


def _configure(connection: Connection | None, metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        url=database_url() if connection is None else None,
        literal_binds=connection is None,
        target_metadata=metadata,
        compare_type=True,
        compare_server_default=True,
    )


def _run_sync(connection: Connection, metadata: MetaData) -> None:
    _configure(connection, metadata)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(metadata: MetaData) -> None:
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync, metadata)
    await engine.dispose()


def run_migrations(metadata: MetaData) -> None:
    """Run Alembic against ``metadata`` (online by default, offline with ``--sql``).

    Args:
        metadata: The service's ``Base.metadata``.
    """
    if context.is_offline_mode():
        _configure(None, metadata)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(_run_online(metadata))
