"""The chassis gRPC server: error table applied, deadline budget, health, shutdown, binding.

The server runs in process on a loopback port, with a byte-level test service (no .proto needed);
the test channel presents a valid service token (authentication itself: ``test_grpc_auth.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health_pb2, health_pb2_grpc

from agora_chassis.errors import Conflict, DependencyUnavailable, NotFound
from agora_chassis.grpc_auth import GrpcAuth, method_scopes
from agora_chassis.grpc_server import BindError, GrpcServer, start_grpc_server
from agora_chassis.service_tokens import service_channel
from agora_cli.infra.ports import LOOPBACK, free_port
from agora_testing.grpc_tokens import FixedToken, service_token, service_verifier

SERVICE = "agora.test.v1.ProbeService"
BUDGET_SECONDS = 0.5
SLOW_SECONDS = 30.0
CALLER_DEADLINE_SECONDS = 0.2
CANCELLATIONS: list[int] = []
"""How many cancellations were pending each time a slow probe was cancelled."""

ERRORS: dict[bytes, Exception] = {
    b"not-found": NotFound("no such thing"),
    b"conflict": Conflict("taken"),
    b"crash": RuntimeError("secret internals"),
    b"database-down": DependencyUnavailable("database", "cannot connect to 10.0.0.9:5432"),
}


async def probe(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    """Echo, fail as the request says, abort on its own, or outlast any budget."""
    if request in ERRORS:
        raise ERRORS[request]
    if request == b"abort":
        await context.abort(grpc.StatusCode.OUT_OF_RANGE, "chosen by the servicer")
    if request == b"slow":
        try:
            await asyncio.sleep(SLOW_SECONDS)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            CANCELLATIONS.append(task.cancelling() if task else -1)
            raise
    return request


async def numbers(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
    """A server-streaming method: the interceptor must leave it alone."""
    for number in range(3):
        yield str(number).encode()


def register(server: grpc.aio.Server) -> None:
    handlers = {
        "Probe": grpc.unary_unary_rpc_method_handler(probe),
        "Numbers": grpc.unary_stream_rpc_method_handler(numbers),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


KEY = Ed25519PrivateKey.generate()
AUTH = GrpcAuth(
    service_verifier(KEY), method_scopes(SERVICE, {"Probe": {"probe:call"}, "Numbers": set()})
)


@pytest.fixture
async def server() -> AsyncIterator[GrpcServer]:
    running = await start_grpc_server(
        register, [SERVICE], host=LOOPBACK, port=free_port(), auth=AUTH, limit=BUDGET_SECONDS
    )
    yield running
    await running.stop(grace=0)


@pytest.fixture
async def channel(server: GrpcServer) -> AsyncIterator[grpc.aio.Channel]:
    tokens = FixedToken(service_token(KEY))
    async with service_channel(f"{LOOPBACK}:{server.port}", tokens) as channel:
        yield channel


async def call(channel: grpc.aio.Channel, request: bytes) -> bytes:
    method = channel.unary_unary(f"/{SERVICE}/Probe")
    response: bytes = await method(request)
    return response


async def failure(channel: grpc.aio.Channel, request: bytes) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(channel, request)
    return raised.value


async def test_unary_call_succeeds_through_the_guard(channel: grpc.aio.Channel) -> None:
    assert await call(channel, b"hello") == b"hello"


@pytest.mark.parametrize(
    ("request_bytes", "code", "details"),
    [
        (b"not-found", grpc.StatusCode.NOT_FOUND, "no such thing"),
        (b"conflict", grpc.StatusCode.FAILED_PRECONDITION, "taken"),
        (b"crash", grpc.StatusCode.INTERNAL, "Something went wrong on our side"),
        (b"abort", grpc.StatusCode.OUT_OF_RANGE, "chosen by the servicer"),
    ],
)
async def test_raised_error_is_answered_with_its_table_code(
    channel: grpc.aio.Channel, request_bytes: bytes, code: grpc.StatusCode, details: str
) -> None:
    error = await failure(channel, request_bytes)

    assert error.code() == code
    assert (error.details() or "").startswith(details)


async def test_unexpected_error_is_logged_with_its_method(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    await failure(channel, b"crash")

    assert f"gRPC call /{SERVICE}/Probe failed" in caplog.text
    assert "secret internals" not in ((await failure(channel, b"crash")).details() or "")


async def test_unreachable_dependency_is_unavailable_with_retry_after_and_logged_by_name(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    error = await failure(channel, b"database-down")

    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "10.0.0.9" not in (error.details() or "")
    assert ("retry-after", "5") in tuple(error.trailing_metadata() or ())
    assert f"dependency=database unreachable in gRPC call /{SERVICE}/Probe" in caplog.text


async def test_call_without_deadline_stops_at_the_budget(channel: grpc.aio.Channel) -> None:
    error = await failure(channel, b"slow")

    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_caller_deadline_cancels_the_servicer_exactly_once(
    channel: grpc.aio.Channel,
) -> None:
    CANCELLATIONS.clear()
    method = channel.unary_unary(f"/{SERVICE}/Probe")

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await method(b"slow", timeout=CALLER_DEADLINE_SECONDS)
    await asyncio.sleep(BUDGET_SECONDS)  # past the server's own budget: no second cancellation

    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert CANCELLATIONS == [1]


async def test_streaming_method_passes_through_unguarded_yet_authenticated(
    channel: grpc.aio.Channel,
) -> None:
    method = channel.unary_stream(f"/{SERVICE}/Numbers")

    received = [item async for item in method(b"")]

    assert received == [b"0", b"1", b"2"]


async def test_health_goes_not_serving_when_the_server_stops(server: GrpcServer) -> None:
    async with grpc.aio.insecure_channel(f"{LOOPBACK}:{server.port}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=SERVICE)
        )
        first = await watch.read()
        await server.stop(grace=1)
        second = await watch.read()

    serving = health_pb2.HealthCheckResponse
    assert (first.status, second.status) == (serving.SERVING, serving.NOT_SERVING)


async def test_taken_port_is_a_bind_error(server: GrpcServer) -> None:
    with pytest.raises(BindError, match="cannot listen"):
        await start_grpc_server(register, [SERVICE], host=LOOPBACK, port=server.port, auth=AUTH)


async def test_port_zero_binds_a_free_port() -> None:
    running = await start_grpc_server(register, [SERVICE], host=LOOPBACK, port=0, auth=AUTH)
    try:
        assert running.port > 0
    finally:
        await running.stop(grace=0)
