"""Payment against a real PostgreSQL and a real payment provider simulator (a subprocess).

The use cases keep their bookkeeping in transactions of their own, so these tests use committed
data: one migrated database per session, its tables emptied and the simulator's ledger cleared
and faults reset before each test. Each test gets its own provider client (a fresh breaker).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import func, select, text

from agora_chassis.auth import TokenVerifier
from agora_chassis.breaker import BreakerPolicy
from agora_chassis.call_policy import CallPolicy
from agora_chassis.messaging import EventConsumer, RetryPolicy
from agora_chassis.service_client import ServiceClient
from agora_chassis.state import service_state
from agora_cli.infra.paysim import EmbeddedPaySim
from agora_cli.infra.ports import free_port
from agora_contracts.ordering import OrderAwaitingPaymentV1, OrderRefundRequestedV1, RefundReason
from agora_payment.events.subscriber import build_consumer
from agora_payment.main import PROVIDER, create_app
from agora_payment.models import DeadLetter, OutboxMessage, Payment
from agora_payment.services.provider import PaymentProvider
from agora_payment.settings import PaymentSettings
from agora_payment.wiring import payment_use_cases
from agora_testing.events import structured_event
from agora_testing.fixtures import alembic_upgrade
from agora_testing.tokens import StaticKeys, forge_access_token

pytestmark = pytest.mark.integration

SERVICE_DIR = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.02)
PROVIDER_DEADLINE_SECONDS = 1.0
CARDS = {
    "succeeds": "4242424242424242",
    "declines": "4000000000000002",
    "insufficient": "4000000000009995",
}


@pytest.fixture(scope="session")
def payment_database_url(make_database: Callable[[str], str]) -> str:
    """A fresh database at head, migrated by payment's own Alembic."""
    url = make_database("payment")
    alembic_upgrade(url, SERVICE_DIR / "alembic.ini")
    return url


@pytest.fixture(scope="session")
def paysim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPaySim]:
    """The real simulator as a process on a free port, for the session."""
    where = tmp_path_factory.mktemp("paysim")
    simulator = EmbeddedPaySim(
        where / "data", free_port(), where / "paysim.log", where / "paysim.pid"
    )
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def app(
    payment_database_url: str, paysim: EmbeddedPaySim, signing_key: Ed25519PrivateKey
) -> FastAPI:
    settings = PaymentSettings(
        environment="test",
        database_url=payment_database_url,
        redis_url=None,
        broker_url=None,
        paysim_url=paysim.url,
        provider_deadline_seconds=PROVIDER_DEADLINE_SECONDS,
    )
    app = create_app(settings)
    service_state(app).verifier = TokenVerifier(
        StaticKeys(signing_key), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    return app


@pytest.fixture
async def sim(paysim: EmbeddedPaySim) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's API and admin, its ledger cleared and its faults off."""
    async with httpx.AsyncClient(base_url=paysim.url, timeout=10) as client:
        await client.delete("/admin/ledger")
        await set_faults(client, failure_rate=0, timeout_rate=0, latency_ms=0)
        yield client
        await set_faults(client, failure_rate=0, timeout_rate=0, latency_ms=0)


async def set_faults(sim: httpx.AsyncClient, **faults: float) -> None:
    answer = await sim.put("/admin/faults", json=faults)
    assert answer.status_code == 200, answer.text


async def card_token(sim: httpx.AsyncClient, card: str = "succeeds") -> str:
    """A single-use token of one of the simulator's test cards."""
    year = dt.datetime.now(dt.UTC).year + 1
    body = {"card": {"number": CARDS[card], "exp_month": 12, "exp_year": year, "cvc": "123"}}
    answer = await sim.post("/v1/tokens", json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


async def ledger(sim: httpx.AsyncClient) -> dict[str, list[dict[str, Any]]]:
    answer = await sim.get("/admin/ledger")
    assert answer.status_code == 200
    return dict(answer.json())


@pytest.fixture
async def clean(app: FastAPI) -> None:
    """Empty payment's tables before a test."""
    async with service_state(app).sessionmaker.begin() as session:
        await session.execute(
            text("TRUNCATE refunds, payments, outbox, inbox, dead_letters, audit_log")
        )


@pytest.fixture
def provider_client() -> ServiceClient:
    """A fresh client of the provider: its breaker opens after 2 failures, for 0.2 s."""
    breaker = BreakerPolicy(failure_threshold=2, cool_down_seconds=0.2)
    return ServiceClient(PROVIDER, policy=CallPolicy(breaker=breaker))


@pytest.fixture
def consumer(
    app: FastAPI, clean: None, sim: httpx.AsyncClient, provider_client: ServiceClient
) -> EventConsumer:
    """A consumer without a broker (``on_delivery``/``deliver`` are called directly)."""
    sessionmaker = service_state(app).sessionmaker
    http = httpx.AsyncClient(base_url=str(sim.base_url))
    provider = PaymentProvider(provider_client, http, PROVIDER_DEADLINE_SECONDS)
    return build_consumer(
        None, sessionmaker, payment_use_cases(sessionmaker, provider), retry=FAST_RETRY
    )


def awaiting_payment(
    token: str,
    *,
    order_id: uuid.UUID | None = None,
    amount: str = "49.98",
    deadline_in: float = 900,
) -> OrderAwaitingPaymentV1:
    now = dt.datetime.now(dt.UTC)
    return OrderAwaitingPaymentV1(
        order_id=order_id or uuid.uuid4(),
        buyer_id=uuid.uuid4(),
        amount=Decimal(amount),
        currency="EUR",
        payment_token=token,
        deadline=now + dt.timedelta(seconds=deadline_in),
        requested_at=now,
    )


def refund_requested(order_id: uuid.UUID, payment_id: uuid.UUID) -> OrderRefundRequestedV1:
    return OrderRefundRequestedV1(
        order_id=order_id,
        payment_id=payment_id,
        amount=Decimal("49.98"),
        currency="EUR",
        reason=RefundReason.ORDER_CANCELLED,
        requested_at=dt.datetime.now(dt.UTC),
    )


def body_of(payload: Any, event_id: str | None = None) -> bytes:
    return structured_event(payload, event_id=event_id, source="/agora/ordering")


async def outbox(app: FastAPI) -> list[dict[str, Any]]:
    """The envelopes in payment's outbox, oldest first."""
    async with service_state(app).sessionmaker() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at))
        return [row.envelope for row in rows]


async def payment_of(app: FastAPI, order_id: uuid.UUID) -> Payment | None:
    async with service_state(app).sessionmaker() as session:
        return await session.scalar(select(Payment).where(Payment.order_id == order_id))


async def dead_letters(app: FastAPI) -> int:
    async with service_state(app).sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(DeadLetter)) or 0)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(LOOPBACK, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://payment") as client:
        yield client


@pytest.fixture
def token_for(signing_key: Ed25519PrivateKey) -> Callable[[list[str]], str]:
    """``token_for(roles)``: a valid access token carrying ``roles``."""
    return lambda roles: forge_access_token(signing_key, roles=roles)
