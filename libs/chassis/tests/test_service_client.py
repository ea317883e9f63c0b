"""The service client's loop on a fake clock: retries, the deadline, the breaker, metrics, errors.

The target is a scripted stand-in for a stub method that raises real ``AioRpcError`` objects;
the same behaviour against real gRPC and HTTP servers is in ``test_service_client_grpc.py`` and
``test_service_client_http.py``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY, CollectorRegistry

from agora_chassis.breaker import BreakerPolicy, BreakerState
from agora_chassis.call_policy import CallPolicy
from agora_chassis.client_metrics import ClientMetrics, default_client_metrics
from agora_chassis.errors import DependencyUnavailable, install_error_handlers
from agora_chassis.grpc_errors import status_for
from agora_chassis.health import ProbeFailedError, health_router
from agora_chassis.logging import correlation_id
from agora_chassis.service_client import (
    ServiceClient,
    TargetUnavailable,
    breaker_check,
    outgoing_headers,
)
from agora_testing.grpc_tokens import FixedToken

TARGET = "catalog"
COOL_DOWN = 30.0


def rpc_error(code: grpc.StatusCode, *trailers: tuple[str, str]) -> grpc.aio.AioRpcError:
    metadata = grpc.aio.Metadata(*trailers)
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), metadata, details=code.name)


UNAVAILABLE = rpc_error(grpc.StatusCode.UNAVAILABLE)
NOT_FOUND = rpc_error(grpc.StatusCode.NOT_FOUND)


class FakeTime:
    """A clock that only moves when a call or a sleep takes time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedMethod:
    """A unary stub method: each call takes ``cost`` fake seconds, then plays the next step.

    A step is an exception to raise or a value to return; the last step repeats. A call whose
    cost exceeds its timeout ends at the timeout with ``DEADLINE_EXCEEDED``, as gRPC does.
    """

    def __init__(self, time: FakeTime, *steps: object, cost: float = 0.0) -> None:
        self.time, self.steps, self.cost = time, list(steps), cost
        self.timeouts: list[float] = []

    # The signature of a grpc.aio stub method, whose ``timeout`` is the call's gRPC deadline.
    async def __call__(
        self, _request: bytes, *, timeout: float, **_options: Any  # noqa: ASYNC109
    ) -> object:
        self.timeouts.append(timeout)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if self.cost > timeout:
            self.time.now += timeout
            raise rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED)
        self.time.now += self.cost
        if isinstance(step, BaseException):
            raise step
        return step

    @property
    def calls(self) -> int:
        return len(self.timeouts)


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def make_client(time: FakeTime, registry: CollectorRegistry) -> Callable[..., ServiceClient]:
    metrics = ClientMetrics(registry)

    def make(**policy: Any) -> ServiceClient:
        breaker = BreakerPolicy(failure_threshold=3, cool_down_seconds=COOL_DOWN)
        fields: dict[str, Any] = {"deadline_seconds": 2.0, "breaker": breaker} | policy
        return ServiceClient(
            TARGET,
            policy=CallPolicy(**fields),
            metrics=metrics,
            clock=time,
            sleep=time.sleep,
            random=lambda: 0.5,
        )

    return make


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, {"target": TARGET, **labels}) or 0.0


async def trip_breaker(client: ServiceClient, time: FakeTime) -> None:
    for _ in range(3):
        with pytest.raises(TargetUnavailable):
            await client.call(ScriptedMethod(time, UNAVAILABLE), b"")  # type: ignore[arg-type]


async def test_call_answered_at_once_returns_it_with_the_whole_deadline(
    make_client: Callable[..., ServiceClient], time: FakeTime, registry: CollectorRegistry
) -> None:
    method = ScriptedMethod(time, b"products")

    answer = await make_client().call(method, b"", idempotent=True)  # type: ignore[arg-type]

    assert answer == b"products"
    assert method.timeouts == [2.0]
    assert sample(registry, "service_client_calls_total", outcome="ok") == 1
    assert sample(registry, "service_client_retries_total") == 0


async def test_call_deadline_override_is_sent_as_the_timeout(
    make_client: Callable[..., ServiceClient], time: FakeTime
) -> None:
    method = ScriptedMethod(time, b"ok")

    await make_client().call(method, b"", deadline=0.25)  # type: ignore[arg-type]

    assert method.timeouts == [0.25]


async def test_call_unavailable_twice_is_retried_with_jittered_backoff(
    make_client: Callable[..., ServiceClient], time: FakeTime, registry: CollectorRegistry
) -> None:
    method = ScriptedMethod(time, UNAVAILABLE, UNAVAILABLE, b"ok")

    answer = await make_client(backoff_base_seconds=0.1).call(method, b"")  # type: ignore[arg-type]

    assert answer == b"ok"
    assert method.calls == 3
    assert time.sleeps == [pytest.approx(0.05), pytest.approx(0.1)]  # half of 0.1, then of 0.2
    assert sample(registry, "service_client_retries_total") == 2
    assert sample(registry, "service_client_calls_total", outcome="ok") == 1


async def test_call_permanent_error_is_raised_at_once_and_keeps_the_breaker_closed(
    make_client: Callable[..., ServiceClient], time: FakeTime, registry: CollectorRegistry
) -> None:
    method = ScriptedMethod(time, NOT_FOUND)
    client = make_client()

    for _ in range(5):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.call(method, b"", idempotent=True)  # type: ignore[arg-type]
        assert raised.value.code() is grpc.StatusCode.NOT_FOUND

    assert method.calls == 5
    assert client.breaker_state is BreakerState.CLOSED
    assert sample(registry, "service_client_calls_total", outcome="error") == 5


async def test_call_unavailable_every_time_raises_target_unavailable_after_max_attempts(
    make_client: Callable[..., ServiceClient], time: FakeTime, registry: CollectorRegistry
) -> None:
    method = ScriptedMethod(time, UNAVAILABLE)

    with pytest.raises(TargetUnavailable) as raised:
        await make_client(max_attempts=3).call(method, b"")  # type: ignore[arg-type]

    assert method.calls == 3
    assert raised.value.dependency == TARGET
    assert raised.value.reason == "unavailable"
    assert raised.value.__cause__ is UNAVAILABLE
    assert sample(registry, "service_client_calls_total", outcome="unavailable") == 1


async def test_call_never_runs_past_the_deadline(
    make_client: Callable[..., ServiceClient], time: FakeTime
) -> None:
    method = ScriptedMethod(time, UNAVAILABLE, cost=0.6)
    started = time.now

    with pytest.raises(TargetUnavailable):
        await make_client(max_attempts=10, deadline_seconds=2.0).call(method, b"")  # type: ignore[arg-type]

    assert time.now - started <= 2.0
    assert 2 <= method.calls < 10  # the deadline, not the attempts, ended it
    for attempt, timeout in enumerate(method.timeouts):
        assert timeout <= 2.0 - 0.6 * attempt  # each attempt gets only what is left


async def test_call_attempt_timeout_leaves_time_for_another_attempt(
    make_client: Callable[..., ServiceClient], time: FakeTime
) -> None:
    method = ScriptedMethod(time, b"late", b"ok", cost=0.9)  # the first hangs past its 0.5 s

    async def faster_second(
        request: bytes, *, timeout: float, **options: Any  # noqa: ASYNC109 - a stub's signature
    ) -> object:
        if method.calls == 1:
            method.cost = 0.1
        return await method(request, timeout=timeout, **options)

    client = make_client(attempt_timeout_seconds=0.5)
    answer = await client.call(faster_second, b"", idempotent=True)  # type: ignore[arg-type]

    assert answer == b"ok"
    assert method.timeouts[0] == 0.5


async def test_call_deadline_exceeded_is_retried_only_when_idempotent(
    make_client: Callable[..., ServiceClient], time: FakeTime
) -> None:
    deadline = rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED)
    write, read = ScriptedMethod(time, deadline, b"ok"), ScriptedMethod(time, deadline, b"ok")
    client = make_client()

    with pytest.raises(TargetUnavailable):
        await client.call(write, b"")  # type: ignore[arg-type]
    assert await client.call(read, b"", idempotent=True) == b"ok"  # type: ignore[arg-type]

    assert (write.calls, read.calls) == (1, 2)


async def test_call_resource_exhausted_waits_the_retry_after_trailer(
    make_client: Callable[..., ServiceClient], time: FakeTime
) -> None:
    limited = rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, ("retry-after", "1"))
    method = ScriptedMethod(time, limited, b"ok")

    answer = await make_client(deadline_seconds=3.0).call(method, b"")  # type: ignore[arg-type]

    assert answer == b"ok"
    assert time.sleeps == [1.0]


async def test_call_resource_exhausted_with_retry_after_past_the_deadline_gives_up(
    make_client: Callable[..., ServiceClient], time: FakeTime
) -> None:
    limited = rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, ("retry-after", "10"))
    method = ScriptedMethod(time, limited, b"ok")

    with pytest.raises(TargetUnavailable) as raised:
        await make_client().call(method, b"")  # type: ignore[arg-type]

    assert method.calls == 1
    assert time.sleeps == []
    assert raised.value.retry_after == 10.0


async def test_call_breaker_opens_and_rejects_without_calling(
    make_client: Callable[..., ServiceClient], time: FakeTime, registry: CollectorRegistry
) -> None:
    method = ScriptedMethod(time, UNAVAILABLE)
    client = make_client(max_attempts=1)
    for _ in range(3):
        with pytest.raises(TargetUnavailable):
            await client.call(method, b"")  # type: ignore[arg-type]

    with pytest.raises(TargetUnavailable) as raised:
        await client.call(method, b"")  # type: ignore[arg-type]

    assert method.calls == 3
    assert raised.value.reason == "breaker open"
    assert raised.value.retry_after == COOL_DOWN
    assert client.breaker_state is BreakerState.OPEN
    assert sample(registry, "service_client_calls_total", outcome="rejected") == 1
    assert sample(registry, "service_client_breaker_state") == BreakerState.OPEN.value
    assert sample(registry, "service_client_breaker_transitions_total", state="open") == 1


async def test_call_breaker_opening_mid_call_stops_the_retries(
    make_client: Callable[..., ServiceClient], time: FakeTime
) -> None:
    method = ScriptedMethod(time, UNAVAILABLE)

    with pytest.raises(TargetUnavailable) as raised:
        await make_client(max_attempts=5, deadline_seconds=10.0).call(method, b"")  # type: ignore[arg-type]

    assert method.calls == 3  # the threshold
    assert raised.value.reason == "breaker open"


async def test_call_after_cool_down_trial_success_closes_the_breaker(
    make_client: Callable[..., ServiceClient], time: FakeTime, registry: CollectorRegistry
) -> None:
    method = ScriptedMethod(time, UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, b"back")
    client = make_client(max_attempts=1)
    for _ in range(3):
        with pytest.raises(TargetUnavailable):
            await client.call(method, b"")  # type: ignore[arg-type]

    time.now += COOL_DOWN
    answer = await client.call(method, b"")  # type: ignore[arg-type]

    assert answer == b"back"
    assert client.breaker_state is BreakerState.CLOSED
    assert sample(registry, "service_client_breaker_state") == BreakerState.CLOSED.value
    for state in ("open", "half-open", "closed"):
        assert sample(registry, "service_client_breaker_transitions_total", state=state) == 1


async def test_call_cancelled_trial_does_not_leave_the_breaker_stuck(
    make_client: Callable[..., ServiceClient], time: FakeTime
) -> None:
    client = make_client(max_attempts=1)
    await trip_breaker(client, time)
    time.now += COOL_DOWN
    entered = asyncio.Event()

    async def hangs(request: bytes, **_options: Any) -> bytes:
        entered.set()
        await asyncio.Event().wait()
        return b"never"

    trial = asyncio.create_task(client.call(hangs, b""))  # type: ignore[arg-type]
    await entered.wait()
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial

    assert await client.call(ScriptedMethod(time, b"ok"), b"") == b"ok"  # type: ignore[arg-type]
    assert client.breaker_state is BreakerState.CLOSED


async def test_call_error_that_is_no_rpc_failure_passes_through_and_counts_nothing(
    make_client: Callable[..., ServiceClient], time: FakeTime
) -> None:
    bug = ValueError("a bug in the caller")
    client = make_client()

    for _ in range(5):
        with pytest.raises(ValueError) as raised:
            await client.call(ScriptedMethod(time, bug), b"")  # type: ignore[arg-type]
        assert raised.value is bug

    assert client.breaker_state is BreakerState.CLOSED


async def test_call_hanging_past_the_deadline_is_cut_by_the_client_itself(
    registry: CollectorRegistry,
) -> None:
    # No fake clock: the client's own timeout must stop a call that ignores its gRPC timeout.
    client = ServiceClient(
        TARGET, policy=CallPolicy(deadline_seconds=0.05), metrics=ClientMetrics(registry)
    )

    async def hangs(request: bytes, **_options: Any) -> bytes:
        await asyncio.Event().wait()
        return b"never"

    with pytest.raises(TargetUnavailable) as raised:
        async with asyncio.timeout(5):  # the test's own guard: a TimeoutError fails it
            await client.call(hangs, b"")  # type: ignore[arg-type]

    assert isinstance(raised.value.__cause__, TimeoutError)


@pytest.mark.parametrize("deadline", [0.0, -1.0])
async def test_call_with_a_deadline_already_over_is_refused(
    make_client: Callable[..., ServiceClient], time: FakeTime, deadline: float
) -> None:
    with pytest.raises(ValueError):
        await make_client().call(ScriptedMethod(time, b"ok"), b"", deadline=deadline)  # type: ignore[arg-type]


# --- what callers see ---------------------------------------------------------------------


def test_target_unavailable_is_a_dependency_failure_naming_the_target() -> None:
    error = TargetUnavailable("catalog", "breaker open", 4.0)

    assert isinstance(error, DependencyUnavailable)
    assert error.dependency == "catalog"


def test_target_unavailable_raised_in_a_servicer_answers_grpc_unavailable() -> None:
    status = status_for(TargetUnavailable("catalog", "unavailable"))

    assert status.code is grpc.StatusCode.UNAVAILABLE
    assert status.dependency == "catalog"
    assert dict(status.trailing_metadata)["retry-after"]


async def test_target_unavailable_raised_in_a_route_answers_503_with_retry_after() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/basket")
    async def basket() -> None:
        raise TargetUnavailable("catalog", "breaker open", 3.0)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://basket") as http:
        response = await http.get("/basket")

    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.headers["content-type"] == "application/problem+json"
    assert "catalog" not in response.text  # the dependency goes to the log only


async def test_breaker_check_fails_while_open_and_readiness_says_degraded(
    make_client: Callable[..., ServiceClient], time: FakeTime
) -> None:
    client = make_client(max_attempts=1)
    check = breaker_check(client)
    await check.probe()  # closed: passes
    await trip_breaker(client, time)

    with pytest.raises(ProbeFailedError, match="catalog circuit breaker open"):
        await check.probe()
    app = FastAPI()
    app.include_router(
        health_router({TARGET: check}, version="1", build_time="t", commit="c", service_name="b")
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://basket") as http:
        body = (await http.get("/health/ready")).json()

    assert not check.critical
    assert body["status"] == "degraded"
    assert body["checks"][TARGET]["status"] == "fail"


async def test_breaker_check_half_open_still_fails(
    make_client: Callable[..., ServiceClient], time: FakeTime
) -> None:
    client = make_client(max_attempts=1)
    await trip_breaker(client, time)
    time.now += COOL_DOWN

    with pytest.raises(ProbeFailedError, match="half-open"):
        await breaker_check(client, critical=True).probe()


def test_client_metrics_breaker_gauge_exists_before_any_call(
    make_client: Callable[..., ServiceClient], registry: CollectorRegistry
) -> None:
    make_client()

    assert registry.get_sample_value("service_client_breaker_state", {"target": TARGET}) == 0


def test_service_client_module_does_not_load_grpc() -> None:
    # A service calling only over HTTP (payment) must not carry gRPC's 70 modules (ADR 0013).
    script = "import sys, agora_chassis.service_client; print('grpc' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


async def test_outgoing_headers_without_tokens_send_no_authorization() -> None:
    token = correlation_id.set("req-42")
    try:
        headers = await outgoing_headers(None)
    finally:
        correlation_id.reset(token)

    assert headers == {"x-request-id": "req-42"}  # no span is current: no traceparent


async def test_outgoing_headers_carry_the_service_token() -> None:
    assert await outgoing_headers(FixedToken("t0k")) == {"authorization": "Bearer t0k"}


def test_client_without_metrics_uses_the_process_wide_set() -> None:
    first, second = ServiceClient("identity"), ServiceClient("notification")

    assert first.metrics is second.metrics is default_client_metrics()
    assert REGISTRY.get_sample_value("service_client_breaker_state", {"target": "identity"}) == 0
