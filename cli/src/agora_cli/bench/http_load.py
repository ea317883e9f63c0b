"""An HTTP load generator for the benchmarks, and the bare FastAPI hello-world they compare with.

:func:`run_load` sends a fixed number of GETs over a set of paths with a fixed number in flight:
one worker per client of :func:`open_clients`, each a keep-alive ``httpx.AsyncClient`` holding one
connection, taking the next request from a shared counter, so exactly ``requests`` are sent. (One
client shared by every worker costs about four times the CPU per request: its connection pool
is scanned on every request.) Every request's latency is kept; a response other than 2xx or 304,
or a transport error, counts as an error. The generator runs in the benchmark's own process, so on
a small machine it competes with the servers for the CPUs: the rates are those of this client and
the server together.

:func:`hello_server` runs :func:`hello_app` (one route returning a small JSON object) with the
uvicorn command line ``agora up`` gives every service, on a free port, as the baseline.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from agora_cli.bench import MIN_SECONDS

if TYPE_CHECKING:
    from fastapi import FastAPI

HELLO_APP = "agora_cli.bench.http_load:hello_app"
HELLO_PATH = "/"
START_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 60.0
NOT_MODIFIED = 304
MILLISECONDS = 1000.0
SCRATCH_MODE = 0o755


class LoadError(RuntimeError):
    """The load could not be generated (the server did not start)."""


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
    """What one run of requests measured: counts, wall time, each latency (ascending, seconds)."""

    requests: int
    errors: int
    seconds: float
    latencies: tuple[float, ...]

    @property
    def rate(self) -> float:
        """Requests per second over the run's wall time."""
        return self.requests / max(self.seconds, MIN_SECONDS)

    @property
    def p50_ms(self) -> float:
        """Median latency in milliseconds."""
        return percentile(self.latencies, 0.50) * MILLISECONDS

    @property
    def p99_ms(self) -> float:
        """99th percentile latency in milliseconds."""
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
        }


def merge(results: Sequence[LoadResult]) -> LoadResult:
    """Several runs as one: counts and times added, latencies pooled."""
    return LoadResult(
        requests=sum(r.requests for r in results),
        errors=sum(r.errors for r in results),
        seconds=sum(r.seconds for r in results),
        latencies=tuple(sorted(x for r in results for x in r.latencies)),
    )


@asynccontextmanager
async def open_clients(base_url: str, concurrency: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``concurrency`` keep-alive clients of ``base_url``, one connection each, for the block."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT_SECONDS)
            )
            for _ in range(concurrency)
        ]


def succeeded(status_code: int) -> bool:
    """Whether a response counts as served: 2xx, or 304 Not Modified."""
    return httpx.codes.is_success(status_code) or status_code == NOT_MODIFIED


async def run_load(
    clients: Sequence[httpx.AsyncClient], paths: Sequence[str], requests: int
) -> LoadResult:
    """GET ``paths`` in turn, ``requests`` times in all, one request in flight per client.

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

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for turn in turns:
            started = time.perf_counter()
            try:
                response = await client.get(paths[turn % len(paths)])
                served = succeeded(response.status_code)
            except httpx.HTTPError:
                served = False
            latencies.append(time.perf_counter() - started)
            errors += not served

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for client in clients[:requests]:
            group.create_task(worker(client))
    seconds = time.perf_counter() - started
    return LoadResult(requests, errors, seconds, tuple(sorted(latencies)))


def hello_argv(python: str, port: int) -> list[str]:
    """The uvicorn command line of the baseline: the stack's own, with :func:`hello_app`."""
    from agora_cli.service_process import uvicorn_argv
    from agora_cli.services import CATALOG

    return uvicorn_argv(python, replace(CATALOG, name="hello", app=HELLO_APP), port)


@contextmanager
def hello_server() -> Iterator[str]:
    """Run :func:`hello_app` under uvicorn on a free loopback port; yield its base URL.

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
        spawn(argv, log_file=log_file, pid_file=pid_file, env=dict(os.environ), cwd=repo_root())
        if not wait_until(lambda: http_ok(url + HELLO_PATH), START_TIMEOUT_SECONDS):
            raise LoadError(f"the hello-world server did not answer on {url}:\n{tail(log_file)}")
        yield url
    finally:
        stop_group(pid_file)
        shutil.rmtree(scratch, ignore_errors=True)
