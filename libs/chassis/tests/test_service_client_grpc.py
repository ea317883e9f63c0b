"""The service client against a real ``grpc.aio`` server built by the chassis, with token checks.

The servicer plays a script: fail with a chosen error, stall, or answer. The client reaches it
through :func:`service_channel`, so the token, correlation id and trace context are the real
interceptors' and the server's own token verification has to accept them.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from opentelemetry import trace
from prometheus_client import CollectorRegistry

from agora_chassis.breaker import BreakerPolicy, BreakerState
from agora_chassis.call_policy import CallPolicy
from agora_chassis.client_metrics import ClientMetrics
from agora_chassis.errors import DependencyUnavailable, NotFound, TooManyRequests
from agora_chassis.grpc_auth import GrpcAuth, method_scopes
from agora_chassis.grpc_server import GrpcServer, start_grpc_server
from agora_chassis.health import ProbeFailedError
from agora_chassis.logging import correlation_id
from agora_chassis.service_client import ServiceClient, TargetUnavailable, breaker_check
from agora_chassis.service_tokens import service_channel
from agora_cli.infra.ports import LOOPBACK
from agora_testing.grpc_tokens import FixedToken, service_token, service_verifier

SERVICE = "agora.test.v1.ScriptedService"
METHOD = f"/{SERVICE}/Call"
KEY = Ed25519PrivateKey.generate()
TOKEN = service_token(KEY, sub="service:basket", scope="probe:call")
COOL_DOWN = 30.0
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Script:
    """The servicer: each call plays the next step (an error to raise, seconds to stall)."""

    def __init__(self) -> None:
        self.steps: list[BaseException | float] = []
        self.metadata: list[dict[str, str]] = []

    @property
    def calls(self) -> int:
        return len(self.metadata)

    async def handle(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        self.metadata.append(
            {key: str(value) for key, value in context.invocation_metadata() or ()}
        )
        step = self.steps.pop(0) if self.steps else None
        if isinstance(step, BaseException):
            raise step
        if step is not None:
            await asyncio.sleep(step)
        return b"ok:" + request


class OffsetClock:
    """Real monotonic time, plus whatever the test skips ahead (a cool-down)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
async def script() -> AsyncIterator[tuple[Script, GrpcServer]]:
    played = Script()

    def register(server: grpc.aio.Server) -> None:
        handler = grpc.unary_unary_rpc_method_handler(played.handle)
        generic = grpc.method_handlers_generic_handler(SERVICE, {"Call": handler})
        server.add_generic_rpc_handlers((generic,))

    auth = GrpcAuth(service_verifier(KEY), method_scopes(SERVICE, {"Call": {"probe:call"}}))
    running = await start_grpc_server(register, [SERVICE], host=LOOPBACK, port=0, auth=auth)
    yield played, running
    await running.stop(grace=0)


@pytest.fixture
async def channel(script: tuple[Script, GrpcServer]) -> AsyncIterator[grpc.aio.Channel]:
    async with service_channel(f"{LOOPBACK}:{script[1].port}", FixedToken(TOKEN)) as opened:
        yield opened


def client(
    registry: CollectorRegistry | None = None, clock: OffsetClock | None = None, **policy: Any
) -> ServiceClient:
    breaker = BreakerPolicy(failure_threshold=3, cool_down_seconds=COOL_DOWN)
    fields: dict[str, Any] = {"deadline_seconds": 5.0, "breaker": breaker} | policy
    return ServiceClient(
        "catalog",
        policy=CallPolicy(**fields),
        metrics=ClientMetrics(registry or CollectorRegistry()),
        clock=clock or time.monotonic,
    )


def method(channel: grpc.aio.Channel) -> grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]:
    return channel.unary_unary(METHOD)


def current_span() -> trace.NonRecordingSpan:
    context = trace.SpanContext(
        trace_id=TRACE_ID,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    return trace.NonRecordingSpan(context)


async def test_grpc_call_failing_twice_then_answering_is_retried_with_headers_each_time(
    script: tuple[Script, GrpcServer], channel: grpc.aio.Channel
) -> None:
    played, _ = script
    played.steps = [DependencyUnavailable("database"), DependencyUnavailable("database")]
    registry = CollectorRegistry()
    token = correlation_id.set("req-basket-1")
    try:
        with trace.use_span(current_span()):
            answer = await client(registry).call(method(channel), b"p1", idempotent=True)
    finally:
        correlation_id.reset(token)

    assert answer == b"ok:p1"
    assert played.calls == 3
    for metadata in played.metadata:
        assert metadata["authorization"] == f"Bearer {TOKEN}"
        assert metadata["x-request-id"] == "req-basket-1"
        # Same trace; the span may be httpx's or grpc's own client span when they are instrumented.
        assert metadata["traceparent"].split("-")[1] == TRACEPARENT.split("-")[1], metadata[
            "traceparent"
        ]
    labels = {"target": "catalog"}
    assert registry.get_sample_value("service_client_retries_total", labels) == 2
    assert registry.get_sample_value("service_client_calls_total", labels | {"outcome": "ok"}) == 1


async def test_grpc_call_permanent_error_is_raised_at_once(
    script: tuple[Script, GrpcServer], channel: grpc.aio.Channel
) -> None:
    played, _ = script
    played.steps = [NotFound("no product p9")]

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client().call(method(channel), b"p9", idempotent=True)

    assert raised.value.code() is grpc.StatusCode.NOT_FOUND
    assert raised.value.details() == "no product p9"
    assert played.calls == 1


async def test_grpc_call_rate_limited_waits_the_servers_retry_after(
    script: tuple[Script, GrpcServer], channel: grpc.aio.Channel
) -> None:
    played, _ = script
    played.steps = [TooManyRequests(retry_after=2)]
    waits: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        waits.append(seconds)

    caller = ServiceClient(
        "catalog",
        policy=CallPolicy(deadline_seconds=5.0),
        metrics=ClientMetrics(CollectorRegistry()),
        sleep=recording_sleep,
    )
    answer = await caller.call(method(channel), b"p1")

    assert answer == b"ok:p1"
    assert played.calls == 2
    assert waits == [2.0]


async def test_grpc_call_stalling_past_the_deadline_is_not_retried_when_not_idempotent(
    script: tuple[Script, GrpcServer], channel: grpc.aio.Channel
) -> None:
    played, _ = script
    played.steps = [3.0]
    started = time.monotonic()

    with pytest.raises(TargetUnavailable) as raised:
        await client(deadline_seconds=0.3).call(method(channel), b"order")

    assert time.monotonic() - started < 2.5  # generous: the stall is 3 s, the deadline 0.3 s
    assert played.calls == 1
    cause = raised.value.__cause__
    assert isinstance(cause, grpc.aio.AioRpcError | TimeoutError)


async def test_grpc_call_stalling_once_is_retried_within_the_deadline_when_idempotent(
    script: tuple[Script, GrpcServer], channel: grpc.aio.Channel
) -> None:
    played, _ = script
    played.steps = [3.0]

    caller = client(deadline_seconds=5.0, attempt_timeout_seconds=0.3)
    answer = await caller.call(method(channel), b"p1", idempotent=True)

    assert answer == b"ok:p1"
    assert played.calls == 2


async def test_grpc_breaker_opens_rejects_without_calling_and_closes_after_a_good_trial(
    script: tuple[Script, GrpcServer], channel: grpc.aio.Channel
) -> None:
    played, _ = script
    played.steps = [DependencyUnavailable("database")] * 3
    clock = OffsetClock()
    caller = client(clock=clock, max_attempts=1)
    ready = breaker_check(caller)
    for _ in range(3):
        with pytest.raises(TargetUnavailable):
            await caller.call(method(channel), b"p1", idempotent=True)

    with pytest.raises(TargetUnavailable) as rejected:
        await caller.call(method(channel), b"p1", idempotent=True)
    with pytest.raises(ProbeFailedError, match="catalog circuit breaker open"):
        await ready.probe()
    assert rejected.value.reason == "breaker open"
    assert played.calls == 3

    clock.offset += COOL_DOWN
    answer = await caller.call(method(channel), b"p1", idempotent=True)

    assert answer == b"ok:p1"
    assert caller.breaker_state is BreakerState.CLOSED
    await ready.probe()


async def test_grpc_call_to_a_target_that_is_down_raises_target_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    async with service_channel(f"{LOOPBACK}:{port}", FixedToken(TOKEN)) as down:
        with pytest.raises(TargetUnavailable) as raised:
            await client(max_attempts=2).call(method(down), b"p1", idempotent=True)

    assert raised.value.dependency == "catalog"
    cause = raised.value.__cause__
    assert isinstance(cause, grpc.aio.AioRpcError)
    assert cause.code() is grpc.StatusCode.UNAVAILABLE
