"""End to end: a service token from identity's grant opens a chassis gRPC server that verifies it
against identity's published JWKS; a user's access token does not."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import httpx
import pytest
from fastapi import FastAPI

from agora_chassis.auth import SERVICE_TOKEN_USE, JWKSCache, TokenVerifier
from agora_chassis.grpc_auth import GrpcAuth, current_principal, method_scopes
from agora_chassis.grpc_server import GrpcServer, start_grpc_server
from agora_chassis.service_tokens import ClientCredentials, ServiceTokenSource, service_channel
from agora_chassis.state import service_state
from agora_cli.infra.ports import LOOPBACK
from agora_identity.api.deps import identity_settings
from agora_identity.services.service_tokens import secret_digest
from agora_identity.settings import ServiceClient
from agora_testing.grpc_tokens import FixedToken

pytestmark = pytest.mark.integration

SERVICE = "agora.test.v1.StockService"
SECRET = "ordering-" + "s" * 40


async def whoami(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    return current_principal().subject.encode()


def register(server: grpc.aio.Server) -> None:
    handler = grpc.unary_unary_rpc_method_handler(whoami)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {"Whoami": handler}),)
    )


@pytest.fixture
def registered(app: FastAPI, client: httpx.AsyncClient) -> Iterator[None]:
    settings = identity_settings(app)
    ordering = ServiceClient(secret_sha256=[secret_digest(SECRET)], scopes=["stock:read"])
    service_state(app).settings = settings.model_copy(
        update={"service_clients": {"ordering": ordering}}
    )
    yield
    service_state(app).settings = settings


@pytest.fixture
async def server(client: httpx.AsyncClient) -> AsyncIterator[GrpcServer]:
    """A gRPC server verifying tokens with the JWKS identity serves over HTTP."""
    jwks = JWKSCache(f"{client.base_url}/.well-known/jwks.json", http_client=client)
    verifier = TokenVerifier(
        jwks, issuer="agora-identity", audience="agora", token_use=SERVICE_TOKEN_USE
    )
    auth = GrpcAuth(verifier, method_scopes(SERVICE, {"Whoami": {"stock:read"}}))
    running = await start_grpc_server(register, [SERVICE], host=LOOPBACK, port=0, auth=auth)
    yield running
    await running.stop(grace=0)


async def test_service_token_from_identity_is_accepted_by_grpc_server(
    client: httpx.AsyncClient, registered: None, server: GrpcServer
) -> None:
    credentials = ClientCredentials(
        f"{client.base_url}/api/v1/auth/service-token", "ordering", SECRET
    )
    tokens = ServiceTokenSource(credentials, http_client=client)

    async with service_channel(f"{LOOPBACK}:{server.port}", tokens) as channel:
        answer = await channel.unary_unary(f"/{SERVICE}/Whoami")(b"", timeout=10)

    assert answer == b"service:ordering"


async def test_user_access_token_from_identity_is_unauthenticated_on_grpc(
    customer_token: str, server: GrpcServer
) -> None:
    async with service_channel(f"{LOOPBACK}:{server.port}", FixedToken(customer_token)) as chan:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await chan.unary_unary(f"/{SERVICE}/Whoami")(b"", timeout=10)

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
