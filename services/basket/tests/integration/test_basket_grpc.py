"""The internal ``BasketService`` over a real gRPC channel, with service tokens checked.

The app serves gRPC through its own startup hook, as in production; its key source is the
shared gRPC test key, and the channel presents a service token signed with it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from agora_basket.api.deps import basket_state
from agora_basket.main import create_app
from agora_basket.settings import BasketSettings
from agora_chassis.auth import TokenVerifier
from agora_chassis.service_tokens import service_channel
from agora_chassis.state import service_state
from agora_cli.infra.ports import LOOPBACK, free_port
from agora_contracts.grpc.basket.v1 import basket_pb2, basket_pb2_grpc
from agora_testing.catalog_server import CatalogServer
from agora_testing.grpc_tokens import KEY_FOR_TESTS, FixedToken, OneKey, service_token
from agora_testing.tokens import StaticKeys, forge_access_token

pytestmark = pytest.mark.integration

BOTH_SCOPES = "basket:read basket:write"


@pytest.fixture
async def grpc_app(
    settings: BasketSettings, signing_key: Ed25519PrivateKey
) -> AsyncIterator[FastAPI]:
    """A basket app serving gRPC on a free loopback port."""
    app = create_app(
        settings.model_copy(update={"grpc_host": LOOPBACK, "grpc_port": free_port()}),
        tokens=FixedToken("t"),
    )
    state = service_state(app)
    state.keys = OneKey(KEY_FOR_TESTS)  # service tokens, checked by the gRPC server
    state.verifier = TokenVerifier(
        StaticKeys(signing_key), issuer="agora-identity", audience="agora"
    )
    async with LifespanManager(app):
        yield app


def _stub(
    app: FastAPI, scope: str = BOTH_SCOPES
) -> tuple[grpc.aio.Channel, basket_pb2_grpc.BasketServiceAsyncStub]:
    server = basket_state(app).grpc_server
    assert server is not None
    tokens = FixedToken(service_token(KEY_FOR_TESTS, scope=scope))
    channel = service_channel(f"{LOOPBACK}:{server.port}", tokens)
    return channel, basket_pb2_grpc.BasketServiceStub(channel)


async def test_update_get_and_clear_a_users_basket_over_grpc(
    grpc_app: FastAPI, catalog_server: CatalogServer
) -> None:
    user = str(uuid.uuid4())
    mug = catalog_server.add("Mug", "9.99", available=1)
    channel, stub = _stub(grpc_app)
    async with channel:
        updated = await stub.UpdateItem(
            basket_pb2.UpdateItemRequest(user_id=user, product_id=mug, quantity=3)
        )
        read = await stub.GetBasket(basket_pb2.GetBasketRequest(user_id=user))
        cleared = await stub.Clear(basket_pb2.ClearRequest(user_id=user))

    assert updated.basket == read.basket
    line = read.basket.lines[0]
    assert (line.product_id, line.quantity, line.unit_price, line.line_total) == (
        mug,
        3,
        "9.99",
        "29.97",
    )
    assert (line.short_stock, line.available) == (True, 1)
    assert (read.basket.total, read.basket.currency) == ("29.97", "EUR")
    assert list(cleared.basket.lines) == []


async def test_grpc_and_rest_share_the_users_basket(
    grpc_app: FastAPI,
    catalog_server: CatalogServer,
    signing_key: Ed25519PrivateKey,
) -> None:
    user = uuid.uuid4()
    mug = catalog_server.add("Mug", "9.99")
    token = forge_access_token(signing_key, roles=["customer"], subject=user)
    transport = httpx.ASGITransport(grpc_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://b") as http:
        await http.put(
            f"/api/v1/basket/items/{mug}",
            json={"quantity": 2},
            headers={"Authorization": f"Bearer {token}"},
        )
    channel, stub = _stub(grpc_app)
    async with channel:
        read = await stub.GetBasket(basket_pb2.GetBasketRequest(user_id=str(user)))
    assert [(line.product_id, line.quantity) for line in read.basket.lines] == [(mug, 2)]


@pytest.mark.parametrize(
    ("request_fields", "code"),
    [
        ({"user_id": "not-a-uuid", "quantity": 1}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"quantity": 100}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"quantity": 1}, grpc.StatusCode.NOT_FOUND),
    ],
)
async def test_update_item_refusals_carry_the_chassis_codes(
    grpc_app: FastAPI, request_fields: dict[str, object], code: grpc.StatusCode
) -> None:
    fields = {"user_id": str(uuid.uuid4()), "product_id": str(uuid.uuid4())} | request_fields
    channel, stub = _stub(grpc_app)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.UpdateItem(basket_pb2.UpdateItemRequest(**fields))  # type: ignore[arg-type]
    assert refused.value.code() == code


async def test_update_item_with_read_scope_only_permission_denied(grpc_app: FastAPI) -> None:
    channel, stub = _stub(grpc_app, scope="basket:read")
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Clear(basket_pb2.ClearRequest(user_id=str(uuid.uuid4())))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_update_item_while_catalog_down_unavailable(
    grpc_app: FastAPI, catalog_server: CatalogServer
) -> None:
    mug = catalog_server.add("Mug", "9.99")
    await catalog_server.stop()
    channel, stub = _stub(grpc_app)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.UpdateItem(
                basket_pb2.UpdateItemRequest(user_id=str(uuid.uuid4()), product_id=mug, quantity=1)
            )
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
