"""The service client's HTTP variant against a real HTTP server on a loopback port.

The server (``http.server`` in a thread) answers each request with the next scripted status,
optionally after a stall, and records the headers that arrived.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from prometheus_client import CollectorRegistry

from agora_chassis.breaker import BreakerPolicy, BreakerState
from agora_chassis.call_policy import CallPolicy
from agora_chassis.client_metrics import ClientMetrics
from agora_chassis.logging import correlation_id
from agora_chassis.service_client import ServiceClient, TargetUnavailable
from agora_testing.grpc_tokens import FixedToken

LOOPBACK = "127.0.0.1"
TOKEN = "service-token-for-psp"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass
class Step:
    status: int = HTTPStatus.OK
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0


class ScriptedServer:
    """Answers each request with the next :class:`Step` (200 once the script is played)."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                with server._lock:
                    server.requests.append(
                        (self.command, {k.lower(): v for k, v in self.headers.items()})
                    )
                    step = server.steps.pop(0) if server.steps else Step()
                if step.stall:
                    time.sleep(step.stall)
                body = f'{{"status": {step.status}}}'.encode()
                self.send_response(step.status)
                for name, value in step.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *_args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False  # a stalled handler must not hold up the teardown
        self.url = f"http://{LOOPBACK}:{self.httpd.server_address[1]}"

    @property
    def calls(self) -> int:
        return len(self.requests)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    thread = threading.Thread(target=scripted.httpd.serve_forever, daemon=True)
    thread.start()
    yield scripted
    scripted.httpd.shutdown()
    scripted.httpd.server_close()
    thread.join()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as opened:
        yield opened


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(
    registry: CollectorRegistry | None = None,
    sleep: RecordingSleep | None = None,
    **policy: Any,
) -> ServiceClient:
    breaker = BreakerPolicy(failure_threshold=3, cool_down_seconds=30.0)
    fields: dict[str, Any] = {"deadline_seconds": 5.0, "breaker": breaker} | policy
    return ServiceClient(
        "psp",
        policy=CallPolicy(**fields),
        metrics=ClientMetrics(registry or CollectorRegistry()),
        tokens=FixedToken(TOKEN),
        sleep=sleep or RecordingSleep(),
    )


def current_span() -> trace.NonRecordingSpan:
    context = trace.SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    return trace.NonRecordingSpan(context)


async def test_http_request_503_twice_then_200_is_retried_with_headers_each_time(
    server: ScriptedServer, http: httpx.AsyncClient
) -> None:
    server.steps = [Step(HTTPStatus.SERVICE_UNAVAILABLE), Step(HTTPStatus.SERVICE_UNAVAILABLE)]
    registry, sleep = CollectorRegistry(), RecordingSleep()
    token = correlation_id.set("req-pay-7")
    try:
        with trace.use_span(current_span()):
            response = await client(registry, sleep).request(
                http, "GET", f"{server.url}/charges/7", headers={"accept": "application/json"}
            )
    finally:
        correlation_id.reset(token)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": 200}
    assert server.calls == 3
    assert len(sleep.waits) == 2
    for method, headers in server.requests:
        assert method == "GET"
        assert headers["authorization"] == f"Bearer {TOKEN}"
        assert headers["x-request-id"] == "req-pay-7"
        # Same trace; the span may be httpx's or grpc's own client span when they are instrumented.
        assert headers["traceparent"].split("-")[1] == TRACEPARENT.split("-")[1], headers[
            "traceparent"
        ]
        assert headers["accept"] == "application/json"
    assert registry.get_sample_value("service_client_retries_total", {"target": "psp"}) == 2


async def test_http_request_permanent_status_is_returned_at_once(
    server: ScriptedServer, http: httpx.AsyncClient
) -> None:
    server.steps = [Step(HTTPStatus.NOT_FOUND)]
    registry = CollectorRegistry()

    response = await client(registry).request(http, "GET", f"{server.url}/charges/missing")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert server.calls == 1
    labels = {"target": "psp", "outcome": "error"}
    assert registry.get_sample_value("service_client_calls_total", labels) == 1


async def test_http_keyed_post_500_is_retried_only_when_asked(
    server: ScriptedServer, http: httpx.AsyncClient
) -> None:
    server.steps = [Step(HTTPStatus.INTERNAL_SERVER_ERROR), Step(HTTPStatus.INTERNAL_SERVER_ERROR)]
    psp = client()

    default = await psp.request(http, "POST", f"{server.url}/charges", idempotent=True, json={})
    asked = await psp.request(
        http, "POST", f"{server.url}/charges", idempotent=True, retry_server_errors=True, json={}
    )

    assert default.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert asked.status_code == HTTPStatus.OK
    assert server.calls == 3


async def test_http_unkeyed_post_500_is_not_retried_even_when_asked(
    server: ScriptedServer, http: httpx.AsyncClient
) -> None:
    server.steps = [Step(HTTPStatus.INTERNAL_SERVER_ERROR)]

    response = await client().request(
        http, "POST", f"{server.url}/charges", retry_server_errors=True, json={}
    )

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert server.calls == 1


async def test_http_request_429_waits_the_retry_after_header(
    server: ScriptedServer, http: httpx.AsyncClient
) -> None:
    server.steps = [Step(HTTPStatus.TOO_MANY_REQUESTS, {"Retry-After": "2"})]
    sleep = RecordingSleep()

    response = await client(sleep=sleep).request(http, "POST", f"{server.url}/charges", json={})

    assert response.status_code == HTTPStatus.OK
    assert server.calls == 2
    assert sleep.waits == [2.0]


async def test_http_post_502_is_not_retried_and_raises_target_unavailable(
    server: ScriptedServer, http: httpx.AsyncClient
) -> None:
    server.steps = [Step(HTTPStatus.BAD_GATEWAY)]

    with pytest.raises(TargetUnavailable) as raised:
        await client().request(http, "POST", f"{server.url}/charges", json={"amount": "9.99"})

    assert server.calls == 1
    assert raised.value.dependency == "psp"


async def test_http_get_502_is_retried_until_attempts_run_out(
    server: ScriptedServer, http: httpx.AsyncClient
) -> None:
    server.steps = [Step(HTTPStatus.BAD_GATEWAY)] * 5

    with pytest.raises(TargetUnavailable) as raised:
        await client(max_attempts=3).request(http, "GET", f"{server.url}/charges/7")

    assert server.calls == 3
    assert raised.value.reason == "unavailable"


async def test_http_request_stalling_past_the_deadline_raises_target_unavailable(
    server: ScriptedServer, http: httpx.AsyncClient
) -> None:
    server.steps = [Step(stall=3.0)]
    started = time.monotonic()

    with pytest.raises(TargetUnavailable):
        await client(deadline_seconds=0.3).request(http, "POST", f"{server.url}/charges")

    assert time.monotonic() - started < 2.5  # generous: the stall is 3 s, the deadline 0.3 s
    assert server.calls == 1


async def test_http_request_to_a_closed_port_is_retried_then_opens_the_breaker(
    http: httpx.AsyncClient,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind((LOOPBACK, 0))
        url = f"http://{LOOPBACK}:{probe.getsockname()[1]}/charges"
    caller = client(max_attempts=2)

    with pytest.raises(TargetUnavailable) as first:
        await caller.request(http, "POST", url)  # refused connects are safe to retry
    with pytest.raises(TargetUnavailable) as second:
        await caller.request(http, "POST", url)

    assert isinstance(first.value.__cause__, httpx.ConnectError)
    assert second.value.reason == "breaker open"  # 3 refused connects: the threshold
    assert caller.breaker_state is BreakerState.OPEN
