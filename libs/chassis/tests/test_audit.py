"""The chassis audit log: entries carry the actor and land in the caller's transaction."""

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase

from agora_chassis.audit import Actor, AuditMixin, Auditor, AuditRepository
from agora_chassis.auth import Principal
from agora_chassis.db import TYPE_ANNOTATION_MAP, create_engine, create_sessionmaker, make_metadata
from agora_chassis.errors import ServiceUnavailable
from agora_chassis.messaging import DeadLetterMixin
from agora_chassis.messaging.admin_deps import audit_model_beside

CLIENT_IP = "192.0.2.7"


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class AuditEntry(AuditMixin, Base):
    __tablename__ = "audit_log"


class DeadLetter(DeadLetterMixin, Base):
    __tablename__ = "dead_letters"


class UnauditedBase(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class UnauditedDeadLetter(DeadLetterMixin, UnauditedBase):
    __tablename__ = "dead_letters"


def principal(subject: str) -> Principal:
    return Principal(subject=subject, roles=frozenset({"admin"}), scopes=frozenset(), claims={})


@pytest.fixture(scope="module")
def database_url(make_database: Callable[[str], str]) -> str:
    return str(make_database("chassis_audit"))


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    factory = create_sessionmaker(engine)
    async with factory.begin() as session:
        await session.execute(delete(AuditEntry))
    return factory


async def _entries(sessionmaker: async_sessionmaker[AsyncSession]) -> list[AuditEntry]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(AuditEntry)))


@pytest.mark.integration
async def test_auditor_record_stores_user_actor_and_address(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    user_id = uuid.uuid4()
    async with sessionmaker.begin() as session:
        actor = Actor.of(principal(str(user_id)), CLIENT_IP)
        await Auditor(AuditRepository(session, AuditEntry), actor).record("thing_done", n=1)

    [entry] = await _entries(sessionmaker)
    assert (entry.event, entry.actor_id, entry.client_ip) == ("thing_done", user_id, CLIENT_IP)
    assert entry.details == {"n": 1}


@pytest.mark.integration
async def test_auditor_record_rolls_back_with_the_change(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async def failed_change() -> None:
        async with sessionmaker.begin() as session:
            await Auditor(AuditRepository(session, AuditEntry), Actor()).record("thing_done")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await failed_change()

    assert await _entries(sessionmaker) == []


@pytest.mark.integration
async def test_auditor_record_service_subject_is_kept_in_details(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker.begin() as session:
        actor = Actor.of(principal("ordering-service"))
        await Auditor(AuditRepository(session, AuditEntry), actor).record("thing_done")

    [entry] = await _entries(sessionmaker)
    assert entry.actor_id is None
    assert entry.details == {"actor": "ordering-service"}


@pytest.mark.integration
async def test_auditor_page_lists_newest_first_with_total(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker.begin() as session:
        auditor = Auditor(AuditRepository(session, AuditEntry), Actor())
        for event in ("first", "second", "third"):
            await auditor.record(event)

    async with sessionmaker() as session:
        page, total = await Auditor(AuditRepository(session, AuditEntry), Actor()).page(
            offset=0, limit=2
        )

    assert total == 3
    assert [entry.event for entry in page] == ["third", "second"]


def test_actor_of_anonymous_has_no_user() -> None:
    actor = Actor.of(None, CLIENT_IP)

    assert (actor.subject, actor.user_id(), actor.client_ip) == (None, None, CLIENT_IP)


def test_audit_model_beside_finds_the_table_on_the_same_base() -> None:
    assert audit_model_beside(DeadLetter) is AuditEntry


def test_audit_model_beside_without_audit_table_is_503() -> None:
    with pytest.raises(ServiceUnavailable):
        audit_model_beside(UnauditedDeadLetter)
