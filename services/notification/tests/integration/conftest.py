"""Notification against a real PostgreSQL and a real SMTP server (aiosmtpd, in process).

The handler records its status in transactions of its own, so these tests use committed data: one
migrated database per session, its tables emptied before each test.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import text

from agora_chassis.auth import TokenVerifier
from agora_chassis.messaging import EventConsumer, RetryPolicy
from agora_chassis.state import service_state
from agora_cli.infra.ports import free_port
from agora_contracts.identity import UserRegisteredV1
from agora_notification.events.subscriber import build_consumer
from agora_notification.main import create_app, notification_state
from agora_notification.services.mailer import Mailer, SmtpConfig
from agora_notification.services.notifications import Notifier
from agora_notification.settings import NotificationSettings
from agora_testing.events import structured_event
from agora_testing.fixtures import alembic_upgrade
from agora_testing.tokens import StaticKeys, forge_access_token

pytestmark = pytest.mark.integration

SERVICE_DIR = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
REFUSED_DOMAIN = "refused.example.com"
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.02)


@dataclass
class CollectingHandler:
    """aiosmtpd handler keeping every message; refuses recipients at ``REFUSED_DOMAIN`` (550)."""

    messages: list[Envelope] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - the name aiosmtpd calls
        self,
        _server: SMTP,
        _session: Session,
        envelope: Envelope,
        address: str,
        _options: list[str],
    ) -> str:
        if address.endswith(f"@{REFUSED_DOMAIN}"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls
        self, _server: SMTP, _session: Session, envelope: Envelope
    ) -> str:
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def notification_database_url(make_database: Callable[[str], str]) -> str:
    """A fresh database at head, migrated by notification's own Alembic."""
    url = make_database("notification")
    alembic_upgrade(url, SERVICE_DIR / "alembic.ini")
    return url


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[tuple[int, CollectingHandler]]:
    """A real SMTP server on a free port, for the session: ``(port, handler)``."""
    handler, port = CollectingHandler(), free_port()
    controller = Controller(handler, hostname=LOOPBACK, port=port)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def app(
    notification_database_url: str,
    smtp_sink: tuple[int, CollectingHandler],
    signing_key: Ed25519PrivateKey,
) -> FastAPI:
    settings = NotificationSettings(
        environment="test",
        database_url=notification_database_url,
        redis_url=None,
        broker_url=None,
        smtp_host=LOOPBACK,
        smtp_port=smtp_sink[0],
        smtp_timeout_seconds=2.0,
    )
    app = create_app(settings)
    service_state(app).verifier = TokenVerifier(
        StaticKeys(signing_key), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    return app


@pytest.fixture
async def clean(app: FastAPI, smtp_sink: tuple[int, CollectingHandler]) -> None:
    """Empty the tables and the sink's mailbox before a test."""
    async with service_state(app).sessionmaker.begin() as session:
        await session.execute(
            text("TRUNCATE notifications, recipients, inbox, dead_letters, audit_log")
        )
    smtp_sink[1].messages.clear()


def make_consumer(app: FastAPI, smtp_port: int | None = None) -> EventConsumer:
    """A consumer without a broker (``deliver`` is called directly), fast retries.

    Args:
        app: The app whose database and mailer settings to use.
        smtp_port: Send to this port instead of the sink's.
    """
    notifier: Notifier = notification_state(app).notifier
    if smtp_port is not None:
        config = SmtpConfig(**(notifier.mailer.config.__dict__ | {"port": smtp_port}))
        notifier = Notifier(
            service_state(app).sessionmaker,
            notifier.notifications,
            notifier.recipients,
            Mailer(config),
        )
    return build_consumer(None, service_state(app).sessionmaker, notifier, retry=FAST_RETRY)


def user_registered(
    email: str = "ada@example.com",
    full_name: str = "Ada Lovelace",
    user_id: uuid.UUID | None = None,
    registered_at: dt.datetime | None = None,
) -> bytes:
    """The body of a ``user.registered`` event (a new user id unless given)."""
    user_id = user_id or uuid.uuid4()
    payload = UserRegisteredV1(
        user_id=user_id,
        email=email,
        full_name=full_name,
        registered_at=registered_at or dt.datetime.now(dt.UTC),
    )
    return structured_event(payload, source="/agora/identity")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(LOOPBACK, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://notification") as client:
        yield client


@pytest.fixture
def consumer_for(app: FastAPI, clean: None) -> Callable[..., EventConsumer]:
    """``consumer_for(smtp_port=None)``: a fresh consumer (tables emptied first)."""
    return lambda smtp_port=None: make_consumer(app, smtp_port)


@pytest.fixture
def registered_event() -> Callable[..., bytes]:
    """``registered_event(email=, full_name=, user_id=, registered_at=)``: a ``user.registered``."""
    return user_registered


@pytest.fixture
def token_for(signing_key: Ed25519PrivateKey) -> Callable[[list[str]], str]:
    """``token_for(roles)``: a valid access token carrying ``roles``."""
    return lambda roles: forge_access_token(signing_key, roles=roles)
