"""Authenticated gRPC: service tokens, per-method scopes, open health, reflection, correlation id.

A real ``grpc.aio`` server on a loopback port, built by the chassis, with a byte-level service.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from agora_chassis.auth import SERVICE_TOKEN_USE, TokenVerifier
from agora_chassis.grpc_auth import GrpcAuth, current_principal, method_scopes
from agora_chassis.grpc_server import GrpcServer, start_grpc_server
from agora_chassis.logging import PiiMaskingFilter, correlation_id
from agora_chassis.service_tokens import service_channel
from agora_cli.infra.ports import LOOPBACK
from agora_testing.grpc_tokens import (
    AUDIENCE,
    ISSUER,
    TOKEN_SECONDS,
    FixedToken,
    OneKey,
    service_token,
    service_verifier,
)

SERVICE = "agora.test.v1.GuardedService"
KEY = Ed25519PrivateKey.generate()
SCOPES = {
    "Whoami": {"probe:call"},
    "Secret": {"probe:call", "secret:read"},
    "Count": {"probe:call"},
    "Echo": {"probe:call"},
}
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED

logger = logging.getLogger("tests.grpc_auth")


async def whoami(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    """The caller's subject; logs a line, as a servicer would."""
    logger.info("whoami answered")
    return current_principal().subject.encode()


async def count(
    requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
) -> bytes:
    """A client-streaming method: how many messages came."""
    return str(len([item async for item in requests])).encode()


async def echo(
    requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[bytes]:
    """A bidirectional-streaming method: every message back."""
    async for item in requests:
        yield item


def register(server: grpc.aio.Server) -> None:
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(whoami)
        for name in ("Whoami", "Secret", "Undeclared")
    }
    handlers["Count"] = grpc.stream_unary_rpc_method_handler(count)
    handlers["Echo"] = grpc.stream_stream_rpc_method_handler(echo)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


async def start(*, reflection_enabled: bool) -> GrpcServer:
    auth = GrpcAuth(service_verifier(KEY), method_scopes(SERVICE, SCOPES))
    return await start_grpc_server(
        register,
        [SERVICE],
        host=LOOPBACK,
        port=0,
        auth=auth,
        reflection_enabled=reflection_enabled,
    )


@pytest.fixture
async def server() -> AsyncIterator[GrpcServer]:
    running = await start(reflection_enabled=False)
    yield running
    await running.stop(grace=0)


async def call(
    server: GrpcServer, token: str | None, method: str = "Whoami", **kwargs: Any
) -> bytes:
    target = f"{LOOPBACK}:{server.port}"
    channel = (
        grpc.aio.insecure_channel(target)
        if token is None
        else service_channel(target, FixedToken(token))
    )
    async with channel:
        response: bytes = await channel.unary_unary(f"/{SERVICE}/{method}")(b"", **kwargs)
    return response


async def refused(server: GrpcServer, token: str | None, method: str = "Whoami") -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(server, token, method)
    return raised.value.code()


async def test_call_with_valid_token_reaches_servicer_with_principal(server: GrpcServer) -> None:
    answer = await call(server, service_token(KEY, sub="service:basket"))

    assert answer == b"service:basket"


async def test_call_without_token_is_unauthenticated(server: GrpcServer) -> None:
    assert await refused(server, None) == UNAUTHENTICATED


async def test_call_with_non_bearer_authorization_is_unauthenticated(server: GrpcServer) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(server, None, metadata=(("authorization", "Basic dXNlcjpwYXNz"),))

    assert raised.value.code() == UNAUTHENTICATED


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(service_token(KEY, exp=1_000_000, iat=999_000, nbf=None), id="expired"),
        pytest.param(service_token(KEY, aud="someone-else"), id="wrong-audience"),
        pytest.param(service_token(KEY, iss="someone-else"), id="wrong-issuer"),
        pytest.param(service_token(Ed25519PrivateKey.generate()), id="wrong-signature"),
        pytest.param(service_token(KEY, token_use="access"), id="user-access-token"),
        pytest.param("not-a-jwt", id="malformed"),
    ],
)
async def test_call_with_refused_token_is_unauthenticated(server: GrpcServer, token: str) -> None:
    assert await refused(server, token) == UNAUTHENTICATED


async def test_token_without_the_method_scope_is_permission_denied(server: GrpcServer) -> None:
    token = service_token(KEY, scope="probe:call")  # Secret also needs secret:read

    assert await refused(server, token, "Secret") == PERMISSION_DENIED
    assert await call(server, service_token(KEY, scope="probe:call secret:read"), "Secret")


async def test_method_without_declared_scopes_is_permission_denied(server: GrpcServer) -> None:
    token = service_token(KEY, scope="probe:call secret:read")

    assert await refused(server, token, "Undeclared") == PERMISSION_DENIED


async def test_correlation_id_from_metadata_is_on_the_servicer_log_record(
    server: GrpcServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(PiiMaskingFilter())
    outer = correlation_id.set("journey-42")  # the client sends the id of its current action
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            await call(server, service_token(KEY))
    finally:
        correlation_id.reset(outer)

    record = next(r for r in caplog.records if r.getMessage() == "whoami answered")
    assert getattr(record, "correlation_id", None) == "journey-42"


async def test_health_check_answers_without_token(server: GrpcServer) -> None:
    async with grpc.aio.insecure_channel(f"{LOOPBACK}:{server.port}") as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=SERVICE)
        )

    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def list_services(server: GrpcServer) -> set[str]:
    async with grpc.aio.insecure_channel(f"{LOOPBACK}:{server.port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for response in stub.ServerReflectionInfo(iter([request])):
            return {service.name for service in response.list_services_response.service}
    raise AssertionError("reflection answered nothing")


async def test_reflection_off_is_unimplemented(server: GrpcServer) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await list_services(server)

    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_reflection_on_answers_without_token() -> None:
    running = await start(reflection_enabled=True)
    try:
        names = await list_services(running)
    finally:
        await running.stop(grace=0)

    assert SERVICE in names


class CountingKeys(OneKey):
    """A key source counting how often a token's key is looked up (once per verification)."""

    lookups = 0

    async def get_key(self, kid: str) -> Any:
        self.lookups += 1
        return await super().get_key(kid)


async def test_token_is_verified_once_then_remembered_until_it_expires() -> None:
    keys, now = CountingKeys(KEY), [time.time()]
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, token_use=SERVICE_TOKEN_USE)
    auth = GrpcAuth(verifier, method_scopes(SERVICE, SCOPES), clock=lambda: now[0])
    running = await start_grpc_server(register, [SERVICE], host=LOOPBACK, port=0, auth=auth)
    token = service_token(KEY)
    try:
        await call(running, token)
        await call(running, token)
        remembered = keys.lookups
        now[0] += TOKEN_SECONDS + 1  # past its exp: the remembered answer no longer counts
        await call(running, token)
    finally:
        await running.stop(grace=0)

    assert (remembered, keys.lookups) == (1, 2)


async def test_client_streaming_method_needs_a_token(server: GrpcServer) -> None:
    bearer = (("authorization", f"Bearer {service_token(KEY)}"),)
    async with grpc.aio.insecure_channel(f"{LOOPBACK}:{server.port}") as channel:
        method = channel.stream_unary(f"/{SERVICE}/Count")
        counted = await method(iter([b"a", b"b"]), metadata=bearer)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await method(iter([b"a"]))

    assert counted == b"2"
    assert raised.value.code() == UNAUTHENTICATED


async def test_bidirectional_streaming_method_needs_a_token(server: GrpcServer) -> None:
    bearer = (("authorization", f"Bearer {service_token(KEY)}"),)
    async with grpc.aio.insecure_channel(f"{LOOPBACK}:{server.port}") as channel:
        method = channel.stream_stream(f"/{SERVICE}/Echo")
        echoed = [item async for item in method(iter([b"a", b"b"]), metadata=bearer)]
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            _ = [item async for item in method(iter([b"a"]))]

    assert echoed == [b"a", b"b"]
    assert raised.value.code() == UNAUTHENTICATED


def test_current_principal_outside_a_call_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        current_principal()
