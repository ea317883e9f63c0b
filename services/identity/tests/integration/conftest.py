"""Identity against a real PostgreSQL: one migrated database per session, one rolled-back
transaction per test (the app's commits only release savepoints inside it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from agora_chassis.ratelimit import RateLimiter
from agora_chassis.reader import Reader
from agora_chassis.state import service_state
from agora_identity.main import create_app
from agora_identity.repositories.users import UserRepository
from agora_identity.services.bootstrap import ensure_admin
from agora_identity.settings import IdentitySettings
from agora_testing.fixtures import alembic_upgrade

pytestmark = pytest.mark.integration

SERVICE_DIR = Path(__file__).resolve().parents[2]
ADMIN_EMAIL = "admin@agora.local"
ADMIN_PASSWORD = "Admin123!"
PASSWORD = "Correct-Horse-9"
CLIENT_ADDRESS = ("203.0.113.7", 40000)

Register = Callable[..., Awaitable[httpx.Response]]
Login = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture(scope="session")
def migrated_database(make_database: Callable[[str], str]) -> Callable[[str], str]:
    """``migrated_database(prefix) -> url``: a fresh database at head, by identity's own Alembic."""

    def make(prefix: str) -> str:
        url = make_database(prefix)
        alembic_upgrade(url, SERVICE_DIR / "alembic.ini")
        return url

    return make


@pytest.fixture(scope="session")
def identity_database_url(migrated_database: Callable[[str], str]) -> str:
    """The database the rolled-back API tests share."""
    return migrated_database("identity")


@pytest.fixture(scope="session")
def app(identity_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    settings = IdentitySettings(
        environment="test",
        database_url=identity_database_url,
        jwt_keys_dir=tmp_path_factory.mktemp("keys"),
        redis_url=None,
    )
    return create_app(settings)


@pytest.fixture
async def connection(app: FastAPI) -> AsyncIterator[AsyncConnection]:
    """Bind the app to one outer transaction that is rolled back after the test."""
    state = service_state(app)
    original_sessionmaker, original_settings = state.sessionmaker, state.settings
    original_reader = state.reader
    async with state.engine.connect() as conn:
        outer = await conn.begin()
        state.sessionmaker = async_sessionmaker(
            bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        state.reader = Reader.on_connection(conn)  # reads see the test's uncommitted rows
        state.rate_limiter = RateLimiter(None)
        yield conn
        await outer.rollback()
    state.sessionmaker, state.settings = original_sessionmaker, original_settings
    state.reader = original_reader


@pytest.fixture
async def session(app: FastAPI, connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session inside the test's transaction, for arranging and asserting on rows."""
    async with service_state(app).sessionmaker() as session:
        yield session


@pytest.fixture
async def client(app: FastAPI, connection: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=CLIENT_ADDRESS)
    async with httpx.AsyncClient(transport=transport, base_url="http://identity") as client:
        yield client


@pytest.fixture
def register(client: httpx.AsyncClient) -> Register:
    async def _register(
        email: str = "ada@example.com", password: str = PASSWORD, full_name: str = "Ada Lovelace"
    ) -> httpx.Response:
        body = {"email": email, "password": password, "full_name": full_name}
        return await client.post("/api/v1/auth/register", json=body)

    return _register


@pytest.fixture
def login(client: httpx.AsyncClient) -> Login:
    async def _login(email: str = "ada@example.com", password: str = PASSWORD) -> dict[str, str]:
        response = await client.post(
            "/api/v1/auth/token", data={"username": email, "password": password}
        )
        assert response.status_code == 200, response.text
        tokens: dict[str, str] = response.json()
        return tokens

    return _login


@pytest.fixture
async def customer_token(register: Register, login: Login) -> str:
    assert (await register()).status_code == 201
    return (await login())["access_token"]


@pytest.fixture
async def admin_token(session: AsyncSession, login: Login) -> str:
    async with session.begin():
        await ensure_admin(UserRepository(session), ADMIN_EMAIL, ADMIN_PASSWORD)
    return (await login(ADMIN_EMAIL, ADMIN_PASSWORD))["access_token"]
