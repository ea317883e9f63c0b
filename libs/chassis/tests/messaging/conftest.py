"""Database and broker fixtures for the messaging tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agora_chassis.db import create_engine, create_sessionmaker
from agora_chassis.messaging import Broker, make_broker
from libs.chassis.tests.messaging.support import (
    Base,
    DeadLetter,
    Effect,
    InboxMessage,
    OutboxMessage,
    unique_type,
)

RABBITMQ_URL_ENV = "AGORA_TEST_RABBITMQ_URL"


@pytest.fixture(scope="session")
def messaging_database_url(make_database: Callable[[str], str]) -> str:
    return make_database("chassis_messaging")


@pytest.fixture(scope="session")
async def engine(messaging_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(messaging_database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    factory = create_sessionmaker(engine)
    async with factory() as session, session.begin():
        for table in (OutboxMessage, InboxMessage, DeadLetter, Effect):
            await session.execute(delete(table))
    return factory


def rabbitmq_url() -> str:
    url = os.environ.get(RABBITMQ_URL_ENV)
    if not url:
        pytest.skip(f"{RABBITMQ_URL_ENV} is not set: no RabbitMQ to test against")
    return url


@pytest.fixture(params=["nats", "rabbitmq", "kafka"])
def broker_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def running_broker(
    broker_kind: str, request: pytest.FixtureRequest
) -> Callable[[Callable[[Broker], None]], Any]:
    """``async with running_broker(register) as broker``: registers handlers, then starts."""

    @asynccontextmanager
    async def run(register: Callable[[Broker], None]) -> AsyncIterator[Broker]:
        if broker_kind == "kafka":
            broker = make_broker("kafka://127.0.0.1:9092")
            register(broker)
            async with TestKafkaBroker(broker) as test_broker:
                yield test_broker
            return
        url = request.getfixturevalue("nats_url") if broker_kind == "nats" else rabbitmq_url()
        broker = make_broker(url)
        register(broker)
        async with broker:
            await broker.start()
            yield broker

    return run


@pytest.fixture
def fresh_type() -> str:
    return unique_type("thing")
