"""System test: the catalog in the booted stack: seed, browse through the gateway, admin, gRPC.

Checks what only the whole stack shows: the catalog's database gets its extension and migrations,
``agora seed`` loads the demo catalogue, the gateway routes products, categories and images,
identity's tokens authorise catalog's admin API, and the gRPC port of ``agora up`` answers a
caller holding a service token from identity (the CLI's own client, credentials in the stack's
secrets), and refuses one without.
"""

from __future__ import annotations

import asyncio

import grpc
import httpx
import pytest

from agora_chassis.service_tokens import ClientCredentials, ServiceTokenSource, service_channel
from agora_cli.service_clients import OPERATOR_CLIENT, TOKEN_PATH, client_secret
from agora_contracts.grpc.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from tests.system.stack import AgoraRun

pytestmark = pytest.mark.system

SEEDED = 1200
ADMIN = {"username": "admin@agora.local", "password": "Admin123!"}


def _browse(api: httpx.Client) -> dict[str, object]:
    products = api.get("/api/v1/products", params={"per_page": 5})
    assert products.status_code == 200, products.text
    first = products.json()["data"][0]
    search = api.get("/api/v1/products", params={"q": "hedphones"})
    image = api.get(first["image_url"])
    tree = api.get("/api/v1/categories")
    assert products.json()["total"] >= SEEDED * 0.95  # a few seeded products are inactive
    assert search.status_code == 200, search.text
    assert any("Headphones" in p["name"] for p in search.json()["data"])
    assert (image.status_code, image.headers["content-type"]) == (200, "image/svg+xml")
    assert len(tree.json()) == 8
    return dict(first)


def _reprice(api: httpx.Client, product: dict[str, object]) -> httpx.Response:
    token = api.post("/api/v1/auth/token", data=ADMIN).json()["access_token"]
    read = api.get(f"/api/v1/products/{product['id']}")
    return api.patch(
        f"/api/v1/products/{product['id']}",
        json={"price": "1.23"},
        headers={"Authorization": f"Bearer {token}", "If-Match": read.headers["ETag"]},
    )


async def _grpc_price(agora: AgoraRun, gateway: str, product_id: str) -> str:
    secret = client_secret(agora.data_dir, OPERATOR_CLIENT)
    tokens = ServiceTokenSource(ClientCredentials(gateway + TOKEN_PATH, OPERATOR_CLIENT, secret))
    port = agora.port("AGORA_GRPC_PORT_BASE") + 2
    request = catalog_pb2.GetProductsRequest(product_ids=[product_id])
    try:
        async with service_channel(f"127.0.0.1:{port}", tokens) as channel:
            response = await catalog_pb2_grpc.CatalogServiceStub(channel).GetProducts(
                request, timeout=10
            )
    finally:
        await tokens.aclose()
    return str(response.products[0].price)


async def _grpc_without_token(agora: AgoraRun, product_id: str) -> grpc.StatusCode:
    port = agora.port("AGORA_GRPC_PORT_BASE") + 2
    request = catalog_pb2.GetProductsRequest(product_ids=[product_id])
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            await catalog_pb2_grpc.CatalogServiceStub(channel).GetProducts(request, timeout=10)
        except grpc.aio.AioRpcError as error:
            return error.code()
    return grpc.StatusCode.OK


def test_catalog_seeded_browsed_repriced_and_read_over_grpc(agora: AgoraRun) -> None:
    up = agora("up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    seed = agora("seed")
    again = agora("seed")
    gateway = f"http://127.0.0.1:{agora.port('AGORA_GATEWAY_PORT')}"

    with httpx.Client(base_url=gateway, timeout=30) as api:
        product = _browse(api)
        repriced = _reprice(api, product)
        anonymous = api.delete(f"/api/v1/products/{product['id']}")
    price = asyncio.run(_grpc_price(agora, gateway, str(product["id"])))
    unauthenticated = asyncio.run(_grpc_without_token(agora, str(product["id"])))

    assert seed.returncode == 0, seed.stdout + seed.stderr
    assert again.returncode == 0, again.stdout + again.stderr
    assert repriced.status_code == 200, repriced.text
    assert repriced.json()["price"] == "1.23"
    assert anonymous.status_code == 401
    assert price == "1.23"
    assert unauthenticated == grpc.StatusCode.UNAUTHENTICATED
