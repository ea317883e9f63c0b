"""Property-based fuzzing of payment's OpenAPI: every answer is one the document declares.

Payment's engine, its HTTP client of the provider and its provider breaker belong to the event
loop they were opened on, while schemathesis calls an ASGI app from loops of its own. So payment
runs as it does in production: in uvicorn, on a loopback port, in a thread with its own loop,
beside the real payment simulator. Payment has no route that creates a payment, so its own
consumer is given events before fuzzing, on the server's loop: a charge that succeeds and is
then refunded, a declined charge and an undecodable message (a dead letter). Purging a second
dead letter over HTTP writes the audit log. Every list then answers with real rows, whose shape
the document must declare too.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from agora_chassis.auth import TokenVerifier
from agora_chassis.state import service_state
from agora_cli.infra.paysim import EmbeddedPaySim
from agora_cli.infra.ports import LOOPBACK, free_port
from agora_payment.main import create_app
from agora_payment.repositories.payments import PaymentRepository
from agora_payment.settings import PaymentSettings
from agora_testing.tokens import StaticKeys, forge_access_token
from services.payment.tests.integration.conftest import (
    PROVIDER_DEADLINE_SECONDS,
    awaiting_payment,
    body_of,
    card_token,
    refund_requested,
)
from tests.openapi_fuzz import fuzz_schema

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 15
DOCUMENTED_OPERATIONS = 7  # 1 admin payments list, 5 dead-letter admin, 1 audit (health aside)
START_SECONDS = 20.0
UNDECODABLE = b'{"specversion": "1.0", "type": "order.awaiting_payment"'
DEAD_LETTERS = "/api/v1/admin/dead-letters"


async def seed(app: FastAPI, paysim_url: str) -> None:
    """Give payment's consumer a refunded charge, a declined one and two undecodable messages."""
    consumer = service_state(app).consumer
    assert consumer is not None
    async with httpx.AsyncClient(base_url=paysim_url, timeout=10) as sim:
        paid = awaiting_payment(await card_token(sim))
        declined = awaiting_payment(await card_token(sim, "declines"))
    assert await consumer.deliver(body_of(paid)) is True
    assert await consumer.deliver(body_of(declined)) is True
    async with service_state(app).sessionmaker() as session:
        payment = await PaymentRepository(session).for_order(paid.order_id)
        assert payment is not None
        assert payment.status == "succeeded"
        payment_id = payment.id
    assert await consumer.deliver(body_of(refund_requested(paid.order_id, payment_id))) is True
    for _ in range(2):
        assert await consumer.deliver(UNDECODABLE) is False


class ServedPayment:
    """Payment in uvicorn, seeded through its consumer, on one event loop in a thread.

    Args:
        settings: Payment's settings (the provider is the session's simulator).
        keys: Verify the users' tokens.
    """

    def __init__(self, settings: PaymentSettings, keys: StaticKeys) -> None:
        self.settings = settings
        self.keys = keys
        self.port = free_port()
        self.started = threading.Event()
        self.failure: Exception | None = None
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as exc:  # noqa: BLE001 - seeding or serving failed: __enter__ raises it
            self.failure = exc
            self.started.set()

    async def _serve(self) -> None:
        app = create_app(self.settings)
        state = service_state(app)
        state.verifier = TokenVerifier(
            self.keys, issuer=self.settings.jwt_issuer, audience=self.settings.jwt_audience
        )
        await seed(app, self.settings.paysim_url)
        config = uvicorn.Config(app, host=LOOPBACK, port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        watcher = asyncio.create_task(self._signal_started())
        try:
            await self._server.serve()
        finally:
            watcher.cancel()

    async def _signal_started(self) -> None:
        while self._server is None or not self._server.started:  # noqa: ASYNC110 - a bool
            await asyncio.sleep(0.05)
        self.started.set()

    def __enter__(self) -> ServedPayment:
        self._thread.start()
        assert self.started.wait(START_SECONDS), "payment did not start under uvicorn"
        if self.failure is not None:
            raise self.failure
        return self

    def __exit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(START_SECONDS)


@pytest.fixture
def served(
    payment_database_url: str,
    paysim: EmbeddedPaySim,
    signing_key: Ed25519PrivateKey,
    clean: None,
) -> Iterator[ServedPayment]:
    settings = PaymentSettings(
        environment="test",
        debug=True,  # serves /openapi.json
        database_url=payment_database_url,
        redis_url=None,
        broker_url=None,
        paysim_url=paysim.url,
        provider_deadline_seconds=PROVIDER_DEADLINE_SECONDS,
        rate_limit="1000000/minute",
    )
    with ServedPayment(settings, StaticKeys(signing_key)) as payment:
        yield payment


def purge_one_dead_letter(url: str, headers: dict[str, str]) -> None:
    """Purge one of the two seeded dead letters: the audit log gets an entry, one is left."""
    listed = httpx.get(f"{url}{DEAD_LETTERS}", headers=headers)
    assert listed.status_code == 200, listed.text
    first, _ = listed.json()["data"]
    purged = httpx.delete(f"{url}{DEAD_LETTERS}/{first['id']}", headers=headers)
    assert purged.status_code == 204, purged.text


def test_payment_api_answers_only_what_its_openapi_declares(
    served: ServedPayment, signing_key: Ed25519PrivateKey
) -> None:
    headers = {"Authorization": f"Bearer {forge_access_token(signing_key, roles=['admin'])}"}
    purge_one_dead_letter(served.url, headers)
    for path in ("/api/v1/payments", DEAD_LETTERS, "/api/v1/audit"):
        listed = httpx.get(f"{served.url}{path}", headers=headers)
        assert listed.status_code == 200, listed.text
        assert listed.json()["data"], path
    refunded = httpx.get(f"{served.url}/api/v1/payments?status=refunded", headers=headers)
    assert refunded.json()["data"][0]["refund"]["status"] == "succeeded"

    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    fuzz_schema(
        schema,
        headers,
        minimum_operations=DOCUMENTED_OPERATIONS,
        examples=EXAMPLES_PER_OPERATION,
    )
