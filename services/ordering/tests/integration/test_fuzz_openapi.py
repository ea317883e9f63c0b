"""Property-based fuzzing of ordering's OpenAPI: every answer is one the document declares.

Ordering's gRPC channels (catalog, basket) and its deadline scheduler belong to the event loop
they were opened on, while schemathesis calls an ASGI app from loops of its own. So ordering runs
as it does in production: in uvicorn, on a loopback port, in a thread with its own loop, beside
real catalog and basket gRPC servers. Catalog knows one product (generated product ids are
unknown to it: 404), and the fuzzing buyer's basket holds it. Generated addresses are rarely
real ones, so one order is placed from that basket before fuzzing: the lists then answer with a
real order, whose shape the document must declare too.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agora_chassis.auth import TokenVerifier
from agora_chassis.state import service_state
from agora_cli.infra.ports import LOOPBACK, free_port
from agora_ordering.main import create_app
from agora_ordering.settings import OrderingSettings
from agora_testing.basket_server import BasketServer
from agora_testing.catalog_server import CatalogServer
from agora_testing.grpc_tokens import FixedToken
from agora_testing.tokens import StaticKeys, forge_access_token
from services.ordering.tests.integration.conftest import ADDRESS, key
from tests.openapi_fuzz import fuzz_schema

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 15
# 4 orders, 2 admin orders, 5 dead-letter admin, 1 audit (health aside)
DOCUMENTED_OPERATIONS = 12
START_SECONDS = 20.0


class ServedOrdering:
    """Ordering in uvicorn beside catalog and basket gRPC servers, on one event loop in a thread.

    Args:
        settings: Ordering's settings (the gRPC targets are set to the servers started here).
        keys: Verify the users' tokens.
        buyer: The fuzzing user, whose basket holds the one product catalog knows.
    """

    def __init__(self, settings: OrderingSettings, keys: StaticKeys, buyer: uuid.UUID) -> None:
        self.settings = settings
        self.keys = keys
        self.buyer = buyer
        self.port = free_port()
        self.started = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    async def _serve(self) -> None:
        catalog, basket = CatalogServer(free_port()), BasketServer(free_port())
        basket.baskets[str(self.buyer)] = [(catalog.add("Trail shoe", "24.99"), 2)]
        await catalog.start()
        await basket.start()
        settings = self.settings.model_copy(
            update={"catalog_grpc_target": catalog.target, "basket_grpc_target": basket.target}
        )
        app = create_app(settings, tokens=FixedToken("t"))
        state = service_state(app)
        state.verifier = TokenVerifier(
            self.keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        )
        config = uvicorn.Config(app, host=LOOPBACK, port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        watcher = asyncio.create_task(self._signal_started())
        try:
            await self._server.serve()
        finally:
            watcher.cancel()
            await basket.stop()
            await catalog.stop()

    async def _signal_started(self) -> None:
        while self._server is None or not self._server.started:  # noqa: ASYNC110 - a bool
            await asyncio.sleep(0.05)
        self.started.set()

    def __enter__(self) -> ServedOrdering:
        self._thread.start()
        assert self.started.wait(START_SECONDS), "ordering did not start under uvicorn"
        return self

    def __exit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(START_SECONDS)


@pytest.fixture
def served(ordering_database_url: str, signing_key: Ed25519PrivateKey) -> Iterator[ServedOrdering]:
    settings = OrderingSettings(
        environment="test",
        debug=True,  # serves /openapi.json
        database_url=ordering_database_url,
        rate_limit="1000000/minute",
    )
    with ServedOrdering(settings, StaticKeys(signing_key), uuid.uuid4()) as ordering:
        yield ordering


def test_ordering_api_answers_only_what_its_openapi_declares(
    served: ServedOrdering, signing_key: Ed25519PrivateKey
) -> None:
    token = forge_access_token(signing_key, roles=["customer", "admin"], subject=served.buyer)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"from_basket": True, "ship_to": ADDRESS, "payment_token": "tok_fuzz"}
    placed = httpx.post(f"{served.url}/api/v1/orders", json=body, headers=headers | key())
    assert placed.status_code == 201, placed.text

    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    fuzz_schema(
        schema,
        headers,
        minimum_operations=DOCUMENTED_OPERATIONS,
        examples=EXAMPLES_PER_OPERATION,
    )
