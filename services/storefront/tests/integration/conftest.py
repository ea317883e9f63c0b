"""The storefront in this process, against a real private stack (``agora up`` + ``agora seed``).

One stack per test module's worker (``scope="session"``): PostgreSQL, Valkey, NATS, the payment
simulator, the mail sink and every service, on free ports in a temporary data dir, as a shopper
runs them. The storefront under test is a second instance built here, in-process (so coverage
sees it), calling the stack's services on their own ports, as the stack's storefront does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from agora_cli.services import SERVICES, find_service
from agora_storefront.main import create_app
from agora_storefront.settings import StorefrontSettings
from services.storefront.tests.integration.shop import Shopper
from tests.system.stack import AgoraRun, private_stack

pytestmark = pytest.mark.integration

SHOP_URL = "http://shop.test"
STOREFRONT_REDIS_DB = 7
MakeSettings = Callable[..., StorefrontSettings]


@pytest.fixture(scope="session")
def stack() -> Iterator[AgoraRun]:
    """A private stack, up and seeded with the demo catalogue; ``down`` at the end."""
    # Consumers retry after about 1 s, then 4 s (not 30 s, then 120 s): a failing event is
    # dead-lettered within seconds, so the operator pages' dead-letter test need not wait minutes.
    # Every in-process shopper signs in from one forwarded address (and the admin from the API
    # too), far past identity's login limits for one person at one address.
    settings = {
        "AGORA_RATE_LIMIT": "1000000/minute",
        "AGORA_CONSUMER_RETRY_BASE_SECONDS": "1",
        "AGORA_LOGIN_LIMIT_PER_ACCOUNT_ADDRESS": "1000/minute",
        "AGORA_LOGIN_LIMIT_PER_IP": "1000/minute",
    }
    with private_stack(settings) as run:
        up = run("up", "--detach")
        assert up.returncode == 0, f"agora up failed:\n{up.stdout}\n{up.stderr}"
        seed = run("seed")
        assert seed.returncode == 0, f"agora seed failed:\n{seed.stdout}\n{seed.stderr}"
        yield run


def service_url(stack: AgoraRun, name: str) -> str:
    """The base URL of one of the stack's services, on its own port."""
    spec = find_service(name)
    assert spec is not None, f"no service called {name}"
    return f"http://127.0.0.1:{stack.port('AGORA_SERVICE_PORT_BASE') + spec.port_offset}"


@pytest.fixture(scope="session")
def make_settings(stack: AgoraRun) -> MakeSettings:
    """Storefront settings wired to the stack (``overrides`` replace any of them)."""
    identity = service_url(stack, "identity")
    urls = {
        f"{spec.name}_url": service_url(stack, spec.name)
        for spec in SERVICES
        if spec.name != "storefront"
    }

    def make(**overrides: Any) -> StorefrontSettings:
        values: dict[str, Any] = {
            **urls,
            "environment": "development",
            "jwks_url": f"{identity}/.well-known/jwks.json",
            "redis_url": f"redis://127.0.0.1:{stack.port('AGORA_REDIS_PORT')}/{STOREFRONT_REDIS_DB}",
            "mail_url": f"{stack.operator_url}/mail",
            "card_token_url": f"http://127.0.0.1:{stack.port('AGORA_PAYSIM_PORT')}/v1/tokens",
            "rate_limit": "1000000/minute",
            "log_dir": None,
            **overrides,
        }
        return StorefrontSettings(**values)

    return make


@pytest.fixture(scope="session")
async def storefront(make_settings: MakeSettings) -> AsyncIterator[FastAPI]:
    """The storefront under test, started (lifespan) once per session."""
    app = create_app(make_settings())
    async with LifespanManager(app):
        yield app


@pytest.fixture
async def shopper(storefront: FastAPI) -> AsyncIterator[Shopper]:
    """A fresh browser session (its own cookies) against the in-process storefront."""
    transport = httpx.ASGITransport(app=storefront, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=SHOP_URL) as client:
        yield Shopper(client)


@pytest.fixture
async def api(stack: AgoraRun) -> AsyncIterator[httpx.AsyncClient]:
    """The stack's public API through its gateway (to arrange data and check outcomes)."""
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        yield client
