"""The benchmarks' load generator: a raw HTTP/1.1 client, against scripted servers and uvicorn.

The scripted server answers by path: framed by Content-Length, chunked (also in pieces, and large
enough to take several reads), 304 without a body, 500, ``Connection: close``, cut short, garbage,
never, or by closing the connection. Each test checks what the client made of it, and how many
connections it took.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psutil
import pytest

from agora_cli.bench.cpu import cpu_seconds
from agora_cli.bench.http_load import (
    HELLO_APP,
    Connection,
    HelloServer,
    LoadResult,
    RequestFailed,
    behind_gateway,
    hello_app,
    hello_argv,
    hello_server,
    merge,
    open_clients,
    percentile,
    run_load,
    succeeded,
)
from agora_cli.infra.gateway import NOT_FOUND_ROUTER, UPSTREAM_ERRORS_MIDDLEWARE, gateway_procs
from agora_cli.infra.ports import free_port

LARGE = 200_000
RESPONSES = {
    "/length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    "/large": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % LARGE + b"x" * LARGE,
    "/not-modified": b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n',
    "/error": b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nno",
    "/close": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    "/once": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",  # then closed, as if idle
    "/cut": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    "/garbage": b"this is not HTTP\r\n\r\n",
    "/drop": b"",
}
PIECES = [b"HTTP/1.1 200 OK\r\nTransfer-", b"Encoding: chunked\r\n\r\n3\r\nab", b"c\r\n0\r\n\r\n"]
CLOSING = {"/close", "/once", "/cut", "/garbage", "/drop"}


class Scripted:
    """A server answering each path as scripted; counts connections, keeps each request head (and
    body, when it has one)."""

    def __init__(self) -> None:
        self.url = ""
        self.connections = 0
        self.requests: list[bytes] = []
        self.bodies: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while await self.answer(reader, writer):
                pass
        writer.close()

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection is to be closed."""
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head)
        length = re.search(rb"\r\nContent-Length: (\d+)\r\n", head)
        if length:
            self.bodies.append(await reader.readexactly(int(length[1])))
        path = head.split(b" ")[1].decode()
        if path == "/slow":
            await reader.read()  # until the client gives up
            return False
        for piece in PIECES if path == "/split" else [RESPONSES[path]]:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)
        return path not in CLOSING

    def paths(self) -> list[str]:
        return [head.split(b" ")[1].decode() for head in self.requests]


@pytest.fixture
async def server() -> AsyncIterator[Scripted]:
    scripted = Scripted()
    listening = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
    scripted.url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
    async with listening:
        yield scripted
        listening.close_clients()


def one(server: Scripted, seconds: float = 5.0) -> Connection:
    """A connection to ``server`` whose requests time out after ``seconds``."""
    port = int(server.url.rsplit(":", 1)[1])
    return Connection("127.0.0.1", port, timeout=seconds)


async def test_responses_of_every_framing_are_read_to_the_end_on_one_connection(
    server: Scripted,
) -> None:
    connection = one(server)
    paths = ["/length", "/chunked", "/split", "/large", "/not-modified", "/length"]
    statuses = [await connection.send(path) for path in paths]
    await connection.aclose()
    assert statuses == [200, 200, 200, 200, 304, 200]
    assert (server.connections, connection.opened) == (1, 1)
    assert server.paths() == paths
    port = server.url.rsplit(":", 1)[1]
    assert (
        server.requests[0]
        == (
            f"GET /length HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept-Encoding: gzip\r\n\r\n"
        ).encode()
    )


async def test_a_connection_sends_its_method_and_body_with_every_request(
    server: Scripted,
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    headers = {"Content-Type": "application/json"}
    connection = Connection("127.0.0.1", port, headers=headers, method="PUT", body=b'{"q": 2}')
    assert [await connection.send(path) for path in ("/length", "/chunked")] == [200, 200]
    await connection.aclose()
    assert server.paths() == ["/length", "/chunked"]
    assert (
        server.requests[1]
        == (
            f"PUT /chunked HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept-Encoding: gzip\r\n"
            "Content-Type: application/json\r\nContent-Length: 8\r\n\r\n"
        ).encode()
    )
    assert server.bodies == [b'{"q": 2}'] * 2
    assert server.connections == 1, "each body read to its end: the connection stays usable"


async def test_errors_are_counted_and_the_load_goes_on(server: Scripted) -> None:
    paths = ["/length", "/error", "/chunked", "/not-modified"]
    async with open_clients(server.url, 2) as clients:
        result = await run_load(clients, paths, 10)
    assert (result.requests, result.errors, len(result.latencies)) == (
        10,
        3,
        10,
    )  # /error is the 2nd, 6th and 10th
    assert sorted(server.paths()) == sorted(paths * 2 + paths[:2])
    assert server.connections == 2
    assert list(result.latencies) == sorted(result.latencies)


async def test_connection_close_makes_the_next_request_open_a_new_connection(
    server: Scripted,
) -> None:
    connection = one(server)
    statuses, kept = [], []
    for path in ("/close", "/length", "/close"):
        statuses.append(await connection.send(path))
        kept.append(connection.is_open)
    assert statuses == [200, 200, 200]
    assert kept == [False, True, False]  # not reused: the next request opens a new connection
    assert (server.connections, connection.opened) == (2, 2)
    await connection.aclose()


@pytest.mark.parametrize("path", ["/cut", "/garbage", "/drop"])
async def test_broken_responses_fail_and_the_next_request_reconnects(
    server: Scripted, path: str
) -> None:
    connection = one(server)
    with pytest.raises(RequestFailed, match=f"GET {path} on 127.0.0.1"):
        await connection.send(path)
    assert not connection.is_open
    assert await connection.send("/length") == 200
    assert (server.connections, connection.opened) == (2, 2)
    await connection.aclose()


async def test_a_response_that_never_comes_times_out(server: Scripted) -> None:
    connection = one(server, seconds=0.2)
    with pytest.raises(RequestFailed, match="TimeoutError"):
        await connection.send("/slow")
    assert await connection.send("/length") == 200
    assert connection.opened == 2
    await connection.aclose()


async def test_a_kept_connection_the_server_closed_is_opened_again(server: Scripted) -> None:
    connection = one(server)
    assert await connection.send("/once") == 200
    await asyncio.sleep(0.05)  # the server's close has arrived: seen before sending
    assert await connection.send("/once") == 200
    assert connection._streams is not None
    connection._streams[0].at_eof = lambda: False  # type: ignore[method-assign]
    await asyncio.sleep(0.05)  # ... and now seen only when the response does not come
    assert await connection.send("/length") == 200
    assert server.paths() == ["/once", "/once", "/length"]
    assert (server.connections, connection.opened) == (3, 3)
    await connection.aclose()


async def test_a_kept_connection_is_retried_once_only(server: Scripted) -> None:
    connection = one(server)
    assert await connection.send("/length") == 200
    with pytest.raises(RequestFailed, match="closed before the response"):
        await connection.send("/drop")
    assert server.paths() == ["/length", "/drop", "/drop"]
    await connection.aclose()


async def test_a_base_url_path_prefixes_every_request(server: Scripted) -> None:
    async with open_clients(server.url + "/api/", 1) as (connection,):
        with pytest.raises(RequestFailed):  # the script knows no /api/length: it hangs up
            await connection.send("/length")
    assert server.paths() == ["/api/length"]


async def test_only_plain_http_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="plain http"):
        async with open_clients("https://127.0.0.1:8443", 1):
            pass


async def test_refused_connections_count_as_errors() -> None:
    async with open_clients(f"http://127.0.0.1:{free_port()}", 2) as clients:
        refused = await run_load(clients, ["/"], 3)
    assert (refused.requests, refused.errors) == (3, 3)


def test_percentiles_take_the_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1.0)) == (
        50.0,
        99.0,
        100.0,
    )
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) == 0.0


def test_load_results_report_rates_and_latencies_and_merge() -> None:
    first = LoadResult(4, 1, 2.0, (0.001, 0.002, 0.003, 0.004))
    second = LoadResult(2, 0, 1.0, (0.0005, 0.010))
    assert (first.rate, first.p50_ms, first.p99_ms) == (2.0, 2.0, 4.0)
    merged = merge([first, second])
    assert (merged.requests, merged.errors, merged.seconds) == (6, 1, 3.0)
    assert merged.latencies == (0.0005, 0.001, 0.002, 0.003, 0.004, 0.010)
    assert first.as_json() == {
        "requests": 4,
        "errors": 1,
        "seconds": 2.0,
        "requests_per_second": 2.0,
        "p50_ms": 2.0,
        "p99_ms": 4.0,
        "generator": "python",
    }


@pytest.mark.parametrize(
    ("status", "served"), [(200, True), (204, True), (304, True), (404, False), (500, False)]
)
def test_only_2xx_and_304_count_as_served(status: int, served: bool) -> None:
    assert succeeded(status) is served


async def test_hello_app_answers_with_json() -> None:
    import httpx

    transport = httpx.ASGITransport(app=hello_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://hello") as client:
        response = await client.get("/")
    assert response.json() == {"message": "Hello, world"}


def test_hello_world_runs_with_the_stacks_uvicorn_command_line() -> None:
    argv = hello_argv("python", 12345)
    assert argv[:5] == ["python", "-m", "uvicorn", HELLO_APP, "--factory"]
    assert {"--no-server-header", "12345", "127.0.0.1"} <= set(argv)


@pytest.mark.integration
async def test_load_generator_measures_the_hello_world_over_http() -> None:
    with hello_server() as hello:
        async with open_clients(hello.url, 4) as clients:
            served = await run_load(clients, ["/"], 40)
            missing = await run_load(clients, ["/nowhere"], 6)
        assert cpu_seconds(hello.pid) is not None  # its uvicorn, not a wrapper that exited
    assert (served.requests, served.errors, len(served.latencies)) == (40, 0, 40)
    assert sum(connection.opened for connection in clients) == 4  # kept alive throughout
    assert served.rate > 0
    assert served.p50_ms > 0
    assert served.p99_ms >= served.p50_ms
    assert (missing.requests, missing.errors) == (6, 6)


def stop(hello: HelloServer) -> None:
    """Stop the hello-world's uvicorn: the gateway's upstream is down."""
    process = psutil.Process(hello.pid)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


@pytest.mark.integration
async def test_a_gateway_like_the_stacks_proxies_to_the_hello_world() -> None:
    with hello_server() as hello, behind_gateway(hello) as gateway:
        async with open_clients(gateway.url, 2) as clients:
            served = await run_load(clients, ["/"], 10)
        traefik = psutil.Process(gateway.pid)
        assert traefik.name() == "traefik"
        assert traefik.environ()["GOGC"] == "400"
        procs = str(gateway_procs(os.process_cpu_count()))
        assert traefik.environ()["GOMAXPROCS"] == os.environ.get("GOMAXPROCS", procs)
        access_log = Path(traefik.cwd()) / "gateway-access.log"
        assert len(access_log.read_text(encoding="utf-8").splitlines()) >= 10
        routers = json.loads((Path(traefik.cwd()) / "dynamic.yaml").read_text())["http"]["routers"]
        assert routers["hello-api"]["middlewares"] == [
            UPSTREAM_ERRORS_MIDDLEWARE
        ], "the baseline's route lacks the errors middleware every service's route has"
        assert NOT_FOUND_ROUTER in routers
        stop(hello)
        async with httpx.AsyncClient(timeout=10) as client:
            down = await client.get(gateway.url + "/")
        assert (down.status_code, down.headers["content-type"]) == (
            502,
            "application/problem+json",
        ), "the gateway's error service did not answer for the stopped upstream"
    assert gateway.url != hello.url
    assert (served.requests, served.errors) == (10, 0)
    assert not psutil.pid_exists(gateway.pid) or psutil.Process(gateway.pid).status() == "zombie"
