"""Property-based fuzzing of catalog's OpenAPI: every answer is one the document declares."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from agora_catalog.main import create_app
from agora_catalog.settings import CatalogSettings
from agora_testing.fixtures import alembic_upgrade
from agora_testing.tokens import StaticKeys, forge_access_token
from tests.openapi_fuzz import fuzz_openapi, prepare_for_fuzzing

pytestmark = pytest.mark.integration

SERVICE_DIR = Path(__file__).resolve().parents[2]
EXAMPLES_PER_OPERATION = 15  # per operation and mode
DOCUMENTED_OPERATIONS = 12
UNLIMITED = "1000000/minute"


async def _seed(app: FastAPI, headers: dict[str, str]) -> None:
    """A category and a product, so filters and SKUs sometimes meet real rows."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
        category = await client.post(
            "/api/v1/categories", json={"name": "Kitchen", "slug": "kitchen"}, headers=headers
        )
        product = {
            "sku": "MUG-1",
            "name": "Mug",
            "brand": "Acme",
            "price": "9.99",
            "category_id": category.json()["id"],
            "on_hand": 3,
        }
        await client.post("/api/v1/products", json=product, headers=headers)


@pytest.fixture(scope="module")
def fuzz_app(make_database: Callable[[str], str], signing_key: Ed25519PrivateKey) -> FastAPI:
    """Catalog with its own database and no Redis; schemathesis calls it from its own loops."""
    url = make_database("catalog_fuzz")
    alembic_upgrade(url, SERVICE_DIR / "alembic.ini")
    settings_ = CatalogSettings(
        environment="test",
        debug=True,  # serves /openapi.json
        database_url=url,
        redis_url=None,  # a pooled Redis connection would outlive the event loop it was made in
        broker_url=None,
        rate_limit=UNLIMITED,
    )
    return prepare_for_fuzzing(create_app(settings_), url, StaticKeys(signing_key))


def test_catalog_api_answers_only_what_its_openapi_declares(
    fuzz_app: FastAPI, signing_key: Ed25519PrivateKey
) -> None:
    token = forge_access_token(signing_key, roles=["admin"], scopes=["catalog:write"])
    headers = {"Authorization": f"Bearer {token}"}
    asyncio.run(_seed(fuzz_app, headers))
    fuzz_openapi(
        fuzz_app,
        headers,
        minimum_operations=DOCUMENTED_OPERATIONS,
        examples=EXAMPLES_PER_OPERATION,
    )
