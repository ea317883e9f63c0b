"""An HTTP load generator for the benchmarks, and the bare FastAPI hello-world they compare with.

:func:`run_load` sends a fixed number of requests (GETs, or each connection's method and body)
over a set of paths with a fixed number in flight:
one worker per :class:`Connection` of :func:`open_clients`, each a keep-alive HTTP/1.1 connection
on asyncio streams, taking the next request from a shared counter, so exactly ``requests`` are
sent. Every request's latency is kept; a response other than 2xx or 304, a transport error, a
malformed response or a timeout counts as an error (the connection is then dropped and the next
request opens a new one, as it does after a ``Connection: close``).

The client is a raw one (the request bytes written as they are, the response parsed by
``httptools``, the parser uvicorn uses, and its body dropped) because it runs in the benchmark's
own process, on the CPUs the servers use: httpx spent about 0.6 ms of CPU per request, twice what
the hello-world server itself spends, so the hello-world's rate was the client's and the ratio to
the catalog's flattered the catalog. This client costs a fraction of that; the servers' own CPU
time per request (:mod:`agora_cli.bench.cpu`) does not depend on the client at all.

:func:`hello_server` runs :func:`hello_app` (one route returning a small JSON object) with the
uvicorn command line ``agora up`` gives every service, on a free port, as the baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httptools

from agora_cli.bench import MIN_SECONDS

if TYPE_CHECKING:
    from fastapi import FastAPI

HELLO_APP = "agora_cli.bench.http_load:hello_app"
HELLO_PATH = "/"
HELLO_RULE = "PathPrefix(`/`)"  # the gateway's catch-all 404 router ranks below it
START_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 60.0
NOT_MODIFIED = 304
SUCCESS = range(200, 300)
MILLISECONDS = 1000.0
SCRATCH_MODE = 0o755
READ_SIZE = 64 * 1024
HTTP_PORT = 80


class LoadError(RuntimeError):
    """The load could not be generated (the server did not start)."""


class RequestFailed(Exception):
    """A request got no complete response: refused, reset, cut short, malformed or timed out."""


class _StaleConnection(ConnectionError):
    """A reused connection was closed by the server before any byte of the response."""


def hello_app() -> FastAPI:
    """The baseline: a bare FastAPI app answering ``GET /`` with a small JSON object."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get(HELLO_PATH)
    async def hello() -> dict[str, str]:
        return {"message": "Hello, world"}

    return app


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ascending ``ordered`` values (0.0 when there is none)."""
    if not ordered:
        return 0.0
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class LoadResult:
    """What one run of requests measured: counts, wall time, each latency (ascending, seconds).

    ``generator`` is the load generator that ran (``python``: :func:`run_load`; ``wrk``:
    :mod:`agora_cli.bench.wrk`, which reports its percentiles, ``quantiles_ms`` (p50, p99),
    instead of every latency).
    """

    requests: int
    errors: int
    seconds: float
    latencies: tuple[float, ...] = ()
    generator: str = "python"
    quantiles_ms: tuple[float, float] | None = None

    @property
    def rate(self) -> float:
        """Requests per second over the run's wall time."""
        return self.requests / max(self.seconds, MIN_SECONDS)

    @property
    def p50_ms(self) -> float:
        """Median latency in milliseconds."""
        if self.quantiles_ms is not None:
            return self.quantiles_ms[0]
        return percentile(self.latencies, 0.50) * MILLISECONDS

    @property
    def p99_ms(self) -> float:
        """99th percentile latency in milliseconds."""
        if self.quantiles_ms is not None:
            return self.quantiles_ms[1]
        return percentile(self.latencies, 0.99) * MILLISECONDS

    def as_json(self) -> dict[str, Any]:
        """The result as plain JSON values (without the single latencies)."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 4),
            "requests_per_second": round(self.rate, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "generator": self.generator,
        }


def merge(results: Sequence[LoadResult]) -> LoadResult:
    """Several runs as one: counts and times added, latencies pooled."""
    return LoadResult(
        requests=sum(r.requests for r in results),
        errors=sum(r.errors for r in results),
        seconds=sum(r.seconds for r in results),
        latencies=tuple(sorted(x for r in results for x in r.latencies)),
    )


class _Response:
    """The ``httptools`` callbacks of one connection: whether the response is complete."""

    __slots__ = ("complete", "keep_alive", "parser")

    def __init__(self) -> None:
        self.complete = False
        self.keep_alive = True
        self.parser = httptools.HttpResponseParser(self)

    def on_message_complete(self) -> None:
        """The body is in (framed by Content-Length or chunks, or none, as for a 304)."""
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # reset once this returns


class Connection:
    """One worker's keep-alive HTTP/1.1 connection: opened on first use and after a failure.

    Each request is ``<method> <path> HTTP/1.1`` (``GET`` unless told otherwise) with ``Host`` and
    ``Accept-Encoding: gzip`` (browsers send it, and the servers compress what they would compress
    for them), and ``Content-Length`` and the body when there is one. The response is read to its
    end and its body dropped; one that ends with the connection (no length, not chunked) counts as
    cut short: neither uvicorn nor Traefik sends one.
    """

    def __init__(
        self,
        host: str,
        port: int,
        prefix: str = "",
        timeout: float = REQUEST_TIMEOUT_SECONDS,
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
        body: bytes = b"",
    ) -> None:
        """Describe the connection; nothing is opened before the first request.

        Args:
            host: The server's host name or address.
            port: Its port.
            prefix: A path put before every requested path (a base URL's path).
            timeout: Seconds a request may take, connecting included.
            headers: Sent with every request too (``Authorization``, ``Content-Type``...).
            method: The method of every request.
            body: The body of every request (none when empty).
        """
        self.host, self.port, self.prefix, self.timeout = host, port, prefix, timeout
        self.method = method
        authority = host if port == HTTP_PORT else f"{host}:{port}"
        sent = {**(headers or {}), **({"Content-Length": str(len(body))} if body else {})}
        extra = "".join(f"{name}: {value}\r\n" for name, value in sent.items())
        head = f"Host: {authority}\r\nAccept-Encoding: gzip\r\n{extra}\r\n"
        self._headers = head.encode("ascii") + body
        self._requests: dict[str, bytes] = {}
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._response = _Response()
        self.opened = 0

    @property
    def is_open(self) -> bool:
        """Whether a connection is open, kept alive for the next request."""
        return self._streams is not None

    def _request(self, path: str) -> bytes:
        encoded = self._requests.get(path)
        if encoded is None:
            line = f"{self.method} {self.prefix}{path} HTTP/1.1\r\n".encode("ascii")
            encoded = self._requests[path] = line + self._headers
        return encoded

    async def send(self, path: str) -> int:
        """Send the connection's request for ``path`` and read the whole response.

        Returns:
            The response's status code.

        Raises:
            RequestFailed: When no complete response came in time (the connection is dropped).
        """
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(self._request(path))
        except (OSError, httptools.HttpParserError) as error:  # TimeoutError is an OSError
            self.close()
            raise RequestFailed(
                f"{self.method} {path} on {self.host}:{self.port}: {error!r}"
            ) from error

    async def _exchange(self, request: bytes) -> int:
        """Send ``request`` and read its response, once more when a kept connection was stale."""
        reused = self._streams is not None and not self._streams[0].at_eof()
        if not reused:
            await self._open()
        try:
            return await self._round_trip(request)
        except _StaleConnection:
            if not reused:
                raise
        await self._open()  # the server closed the idle connection as the request went out
        return await self._round_trip(request)

    async def _open(self) -> None:
        self.close()
        self._streams = await asyncio.open_connection(self.host, self.port)
        self._response = _Response()
        self.opened += 1

    async def _round_trip(self, request: bytes) -> int:
        if self._streams is None:  # pragma: no cover - _exchange opens it first
            raise ConnectionError("not connected")
        reader, writer = self._streams
        response = self._response
        writer.write(request)
        try:
            data = await reader.read(READ_SIZE)
        except ConnectionResetError:
            data = b""
        if not data:
            raise _StaleConnection("the connection was closed before the response")
        response.parser.feed_data(data)
        while not response.complete:
            data = await reader.read(READ_SIZE)
            if not data:
                raise ConnectionError("the connection was closed in the middle of the response")
            response.parser.feed_data(data)
        response.complete = False
        status = response.parser.get_status_code()
        if not response.keep_alive:
            self.close()
        return status

    def close(self) -> None:
        """Drop the connection, if open (the next request opens a new one)."""
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None

    async def aclose(self) -> None:
        """Drop the connection and wait until it is closed."""
        if self._streams is not None:
            writer = self._streams[1]
            self.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@asynccontextmanager
async def open_clients(
    base_url: str,
    concurrency: int,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    body: bytes = b"",
) -> AsyncIterator[list[Connection]]:
    """``concurrency`` keep-alive connections to ``base_url``, closed after the block.

    Args:
        base_url: ``http://host[:port][/prefix]``; the connections open on their first request.
        concurrency: How many.
        headers: Sent with every request too.
        method: The method of every request.
        body: The body of every request (none when empty).

    Raises:
        ValueError: When ``base_url`` is not a plain ``http://`` URL (the stacks serve no TLS).
    """
    parts = urlsplit(base_url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"the load generator speaks plain http://, not {base_url!r}")
    port, prefix = parts.port or HTTP_PORT, parts.path.rstrip("/")
    connections = [
        Connection(parts.hostname, port, prefix, headers=headers, method=method, body=body)
        for _ in range(concurrency)
    ]
    try:
        yield connections
    finally:
        await asyncio.gather(*(connection.aclose() for connection in connections))


def succeeded(status_code: int) -> bool:
    """Whether a response counts as served: 2xx, or 304 Not Modified."""
    return status_code in SUCCESS or status_code == NOT_MODIFIED


async def run_load(
    clients: Sequence[Connection], paths: Sequence[str], requests: int
) -> LoadResult:
    """Request ``paths`` in turn, ``requests`` times in all, one in flight per connection.

    Args:
        clients: One per worker (from :func:`open_clients`); fewer work when ``requests`` is
            smaller.
        paths: Paths (with their query strings) taken in turn, from the first.
        requests: How many requests to send.

    Returns:
        The counts, the wall time and every latency.
    """
    turns = iter(range(requests))  # shared by the workers: each request is sent once
    latencies: list[float] = []
    errors = 0

    async def worker(connection: Connection) -> None:
        nonlocal errors
        for turn in turns:
            started = time.perf_counter()
            try:
                served = succeeded(await connection.send(paths[turn % len(paths)]))
            except RequestFailed:
                served = False
            latencies.append(time.perf_counter() - started)
            errors += not served

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for connection in clients[:requests]:
            group.create_task(worker(connection))
    seconds = time.perf_counter() - started
    return LoadResult(requests, errors, seconds, tuple(sorted(latencies)))


def hello_argv(python: str, port: int) -> list[str]:
    """The uvicorn command line of the baseline: the stack's own, with :func:`hello_app`."""
    from agora_cli.service_process import uvicorn_argv
    from agora_cli.services import CATALOG

    return uvicorn_argv(python, replace(CATALOG, name="hello", app=HELLO_APP), port)


@dataclass(frozen=True)
class HelloServer:
    """The running baseline: its base URL and the pid of its uvicorn process."""

    url: str
    pid: int


@contextmanager
def hello_server() -> Iterator[HelloServer]:
    """Run :func:`hello_app` under uvicorn on a free loopback port for the block.

    Raises:
        LoadError: With the tail of its log when it does not answer in time.
    """
    from agora_cli.config import repo_root
    from agora_cli.infra.nats import http_ok
    from agora_cli.infra.ports import LOOPBACK, free_port, wait_until
    from agora_cli.infra.process import spawn, stop_group, tail

    scratch = Path(tempfile.mkdtemp(prefix="agora-bench-hello-"))
    scratch.chmod(SCRATCH_MODE)
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    log_file, pid_file = scratch / "hello.log", scratch / "hello.pid"
    try:
        argv = hello_argv(sys.executable, port)
        pid = spawn(
            argv, log_file=log_file, pid_file=pid_file, env=dict(os.environ), cwd=repo_root()
        )
        if not wait_until(lambda: http_ok(url + HELLO_PATH), START_TIMEOUT_SECONDS):
            raise LoadError(f"the hello-world server did not answer on {url}:\n{tail(log_file)}")
        yield HelloServer(url, pid)
    finally:
        stop_group(pid_file)
        shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def behind_gateway(server: HelloServer) -> Iterator[HelloServer]:
    """Put a gateway configured as ``agora up``'s in front of ``server`` for the block.

    The same :class:`~agora_cli.infra.gateway.Gateway` the stack runs: Traefik's static and
    dynamic configuration (access log, ``GOGC``, ``GOMAXPROCS``), and the hello-world routed as a
    service is (an API router with the gateway's errors middleware in front, an operator router),
    with its own error service (:mod:`agora_cli.infra.gateway_errors`) running, so the baseline
    pays for every layer a service's request does.

    Yields:
        The gateway's base URL and the pid of its Traefik process.

    Raises:
        agora_cli.infra.gateway.GatewayError: With the tail of its log when it does not start.
    """
    from agora_cli.infra.gateway import Gateway, Upstream
    from agora_cli.infra.gateway_errors import GatewayErrors
    from agora_cli.infra.ports import free_ports
    from agora_cli.infra.process import read_process

    scratch = Path(tempfile.mkdtemp(prefix="agora-bench-gateway-"))
    port, admin_port, errors_port = free_ports([1, 1, 1])
    errors = GatewayErrors(errors_port, scratch / "errors.log", scratch / "errors.pid")
    upstream = Upstream("hello", urlsplit(server.url).port or HTTP_PORT, HELLO_RULE)
    gateway = Gateway(
        scratch, port, admin_port, scratch, scratch / "gateway.pid", [upstream], errors_port
    )
    try:
        errors.start()
        gateway.start()
        process = read_process(gateway.pid_file)
        if process is None:
            raise LoadError("the gateway in front of the hello-world exited")
        yield HelloServer(gateway.url, process.pid)
    finally:
        gateway.stop()
        errors.stop()
        shutil.rmtree(scratch, ignore_errors=True)
