"""Where a benchmark sends load: one base URL, its connections, and the generator of timed runs.

An :class:`Endpoint` runs two kinds of load. **Fixed** runs send an exact number of requests
with the Python generator (:func:`agora_cli.bench.http_load.run_load`): warming a cache with one
pass over its keys, a cold pass after a flush, opening the connections. **Timed** runs, whose
rate and latencies the report gives, use the chosen generator: wrk for ``duration`` seconds
(:mod:`agora_cli.bench.wrk`), or the Python one for ``requests`` requests. Both send the
endpoint's method and body (``GET`` without one unless it was opened with others).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from agora_cli.bench import wrk
from agora_cli.bench.http_load import Connection, LoadResult, open_clients, run_load


@dataclass(frozen=True)
class Endpoint:
    """A base URL under load: ``concurrency`` in flight, ``generator`` for the timed runs.

    Every request is ``method`` with ``headers`` and ``body`` (none when empty).
    """

    url: str
    concurrency: int
    clients: list[Connection]
    generator: str = wrk.PYTHON
    seconds: int = 5
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "GET"
    body: bytes = b""

    async def fixed(self, paths: Sequence[str], requests: int) -> LoadResult:
        """Exactly ``requests`` requests over ``paths`` in turn (the Python generator)."""
        return await run_load(self.clients, paths, requests)

    async def timed(self, paths: Sequence[str], requests: int) -> LoadResult:
        """A timed run over ``paths``: wrk for :attr:`seconds`, else ``requests`` requests."""
        if self.generator == wrk.WRK:
            return await wrk.run(
                self.url,
                paths,
                self.concurrency,
                self.seconds,
                self.headers,
                self.method,
                self.body,
            )
        return await run_load(self.clients, paths, requests)


@asynccontextmanager
async def open_endpoint(
    url: str,
    concurrency: int,
    generator: str = wrk.PYTHON,
    seconds: int = 5,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    body: bytes = b"",
) -> AsyncIterator[Endpoint]:
    """An :class:`Endpoint` for ``url`` with its Python connections, closed after the block."""
    async with open_clients(url, concurrency, headers, method, body) as clients:
        yield Endpoint(
            url, concurrency, clients, generator, seconds, dict(headers or {}), method, body
        )


def describe(generator: str, concurrency: int, seconds: int, requests: int) -> str:
    """The ``client`` line of a report: which generator ran the timed runs, and how."""
    import httptools

    python = f"asyncio streams + httptools {httptools.__version__}"
    if generator == wrk.WRK:
        return (
            f"{wrk.version()} (timed runs: {seconds}s each, {concurrency} connections, "
            f"{wrk.threads_for(concurrency)} threads); {python} for the fixed passes"
        )
    return (
        f"{python}, {concurrency} in flight (a keep-alive HTTP/1.1 connection each), "
        f"{requests} requests a timed run (wrk not used)"
    )
