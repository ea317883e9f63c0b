"""Property-based fuzzing of basket's OpenAPI: every answer is one the document declares.

Basket's Redis client and catalog channel belong to the event loop they were opened on, while
schemathesis calls an ASGI app from loops of its own. So basket runs as it does in production:
in uvicorn, on a loopback port, in a thread with its own loop, beside a real catalog gRPC server
that knows one product (generated product ids are unknown to it: 404, or 422 when invalid).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator

import pytest
import schemathesis
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agora_basket.main import create_app
from agora_basket.settings import BasketSettings
from agora_chassis.auth import TokenVerifier
from agora_chassis.state import service_state
from agora_cli.infra.ports import LOOPBACK, free_port
from agora_testing.catalog_server import CatalogServer
from agora_testing.grpc_tokens import FixedToken
from agora_testing.tokens import StaticKeys, forge_access_token
from tests.openapi_fuzz import fuzz_schema

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 15
DOCUMENTED_OPERATIONS = 11  # 5 basket, 5 dead-letter admin, 1 audit (health aside)
START_SECONDS = 20.0


class ServedBasket:
    """Basket in uvicorn and a catalog gRPC server, on one event loop in a background thread."""

    def __init__(self, settings: BasketSettings, keys: StaticKeys) -> None:
        self.settings = settings
        self.keys = keys
        self.port = free_port()
        self.started = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    async def _serve(self) -> None:
        catalog = CatalogServer(free_port())
        catalog.add("Mug", "9.99")
        await catalog.start()
        settings = self.settings.model_copy(update={"catalog_grpc_target": catalog.target})
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
            await catalog.stop()

    async def _signal_started(self) -> None:
        while self._server is None or not self._server.started:  # noqa: ASYNC110 - a bool
            await asyncio.sleep(0.05)
        self.started.set()

    def __enter__(self) -> ServedBasket:
        self._thread.start()
        assert self.started.wait(START_SECONDS), "basket did not start under uvicorn"
        return self

    def __exit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(START_SECONDS)


@pytest.fixture
def served(
    basket_redis_url: str, basket_database_url: str, signing_key: Ed25519PrivateKey
) -> Iterator[ServedBasket]:
    settings = BasketSettings(
        environment="test",
        debug=True,  # serves /openapi.json
        database_url=basket_database_url,
        redis_url=basket_redis_url,
        basket_key_prefix=f"test-fuzz-{uuid.uuid4().hex[:12]}",
        rate_limit="1000000/minute",
    )
    with ServedBasket(settings, StaticKeys(signing_key)) as basket:
        yield basket


def test_basket_api_answers_only_what_its_openapi_declares(
    served: ServedBasket, signing_key: Ed25519PrivateKey
) -> None:
    token = forge_access_token(signing_key, roles=["customer", "admin"])
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    fuzz_schema(
        schema,
        {"Authorization": f"Bearer {token}"},
        minimum_operations=DOCUMENTED_OPERATIONS,
        examples=EXAMPLES_PER_OPERATION,
    )
