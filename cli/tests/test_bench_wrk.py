"""The wrk driver: its command line, the result line its Lua script prints, and real runs.

The real runs (skipped where wrk is not installed) send wrk against a scripted server that keeps
every request head, and check what wrk sent (paths in turn, headers, a base URL's prefix) and how
its counts were read, never how fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agora_cli.bench import wrk
from agora_cli.bench.load import describe, open_endpoint

needs_wrk = pytest.mark.skipif(wrk.wrk_path() is None, reason="wrk is not installed")
LINE = (
    'AGORA-WRK {"requests": 120, "duration_us": 2000000, "connect": 0, "read": 1, "write": 0, '
    '"status": 3, "timeout": 2, "p50_us": 1500, "p99_us": 9000, "max_us": 12000}'
)


def test_the_result_line_is_read_into_a_load_result() -> None:
    result = wrk.parse(f"Running 2s test @ http://x/\n{LINE}\nRequests/sec: 60.00\n")
    assert (result.requests, result.errors, result.seconds) == (120, 6, 2.0)
    assert (result.p50_ms, result.p99_ms, result.rate) == (1.5, 9.0, 60.0)
    assert result.generator == "wrk"
    assert result.as_json()["generator"] == "wrk"


@pytest.mark.parametrize("output", ["no result here", 'AGORA-WRK {"requests": 1}', "AGORA-WRK {"])
def test_output_without_a_readable_result_is_an_error(output: str) -> None:
    with pytest.raises(wrk.WrkError):
        wrk.parse(output)


def test_wrk_runs_when_installed_unless_python_is_asked_for() -> None:
    assert wrk.choose("auto", "/usr/bin/wrk") == "wrk"
    assert wrk.choose("wrk", "/usr/bin/wrk") == "wrk"
    assert wrk.choose("python", "/usr/bin/wrk") == "python"
    assert wrk.choose("auto", "") == "python"
    with pytest.raises(wrk.WrkError, match="not installed"):
        wrk.choose("wrk", "")


def test_threads_follow_the_cpus_up_to_the_connections() -> None:
    assert wrk.threads_for(32, cpus=2) == 2
    assert wrk.threads_for(1, cpus=8) == 1
    assert wrk.threads_for(4, cpus=None) >= 1


def test_the_command_line_names_the_script_and_its_files(tmp_path: Path) -> None:
    argv = wrk.argv("http://h:1/", tmp_path / "s.lua", tmp_path / "p", tmp_path / "h", 32, 7)
    assert argv[1:] == [
        *("-t", str(wrk.threads_for(32)), "-c", "32", "-d", "7s", "--timeout", "10s"),
        *("-s", str(tmp_path / "s.lua"), "http://h:1/", "--", str(tmp_path / "p")),
        *(str(tmp_path / "h"), "GET"),
    ]
    put = wrk.argv("http://h:1/", tmp_path / "s", tmp_path / "p", tmp_path / "h", 2, 1, "PUT")
    assert put[-3:] == [str(tmp_path / "p"), str(tmp_path / "h"), "PUT"]
    body = tmp_path / "b"
    sent = wrk.argv(
        "http://h:1/", tmp_path / "s", tmp_path / "p", tmp_path / "h", 2, 1, "PUT", body
    )
    assert sent[-3:] == [str(tmp_path / "h"), "PUT", str(body)]


def test_the_report_says_which_generator_ran() -> None:
    assert describe("python", 32, 5, 2000).startswith("asyncio streams + httptools")
    assert "2000 requests a timed run (wrk not used)" in describe("python", 32, 5, 2000)
    text = describe("wrk", 32, 5, 2000)
    assert "timed runs: 5s each, 32 connections" in text
    assert "for the fixed passes" in text


@dataclass
class Recorder:
    """A server keeping every request head and body; /error answers 500, /same 304, the rest 200."""

    heads: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    errors: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while head := await reader.readuntil(b"\r\n\r\n"):
                self.heads.append(head)
                length = re.search(rb"\r\nContent-Length: (\d+)\r\n", head)
                self.bodies.append(await reader.readexactly(int(length[1])) if length else b"")
                path = head.split(b" ")[1]
                if path.endswith(b"/error"):
                    self.errors += 1
                    writer.write(b"HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\nno")
                elif path.endswith(b"/same"):
                    writer.write(b'HTTP/1.1 304 Not Modified\r\nETag: "1"\r\n\r\n')
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        writer.close()

    def paths(self) -> set[str]:
        return {head.split(b" ")[1].decode() for head in self.heads}


@asynccontextmanager
async def recorder() -> AsyncIterator[tuple[Recorder, str]]:
    server = Recorder()
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    async with listening:
        yield server, f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
        listening.close_clients()


@needs_wrk
@pytest.mark.integration
async def test_wrk_sends_the_paths_in_turn_with_the_headers_and_counts_errors() -> None:
    async with recorder() as (server, url):
        result = await wrk.run(url, ["/a", "/same", "/error"], 2, 1, {"Authorization": "Bearer t"})
    assert server.paths() == {"/a", "/same", "/error"}
    assert all(b"\r\nAuthorization: Bearer t\r\n" in head for head in server.heads)
    assert all(b"\r\nAccept-Encoding: gzip\r\n" in head for head in server.heads)
    assert 0 < result.requests <= len(server.heads)
    assert 0 < result.errors <= server.errors, "only the 500s are errors, not the 304s"
    assert result.errors < result.requests
    assert result.p99_ms >= result.p50_ms > 0
    assert 0.9 < result.seconds < 5


@needs_wrk
@pytest.mark.integration
async def test_wrk_sends_the_method_and_the_body_it_is_given() -> None:
    body = b'{"quantity": 2}'
    headers = {"Content-Type": "application/json"}
    async with recorder() as (server, url):
        result = await wrk.run(url, ["/items/a"], 2, 1, headers, "PUT", body)
    assert result.requests > 0
    assert result.errors == 0, "each body read as such, not as the next request"
    assert {head.split(b" ")[0] for head in server.heads} == {b"PUT"}
    assert set(server.bodies) == {body}
    assert all(b"\r\nContent-Length: 15\r\n" in head for head in server.heads)
    assert all(b"\r\nContent-Type: application/json\r\n" in head for head in server.heads)
    async with recorder() as (server, url):
        await wrk.run(url, ["/a"], 1, 1)
    assert {head.split(b" ")[0] for head in server.heads} == {b"GET"}
    assert set(server.bodies) == {b""}
    assert not any(b"Content-Length" in head for head in server.heads)


@needs_wrk
@pytest.mark.integration
async def test_an_endpoint_times_with_wrk_and_fills_with_python() -> None:
    async with recorder() as (server, url), open_endpoint(f"{url}/api", 2, "wrk", 1) as endpoint:
        fixed = await endpoint.fixed(["/x"], 3)
        assert (fixed.requests, fixed.generator) == (3, "python")
        timed = await endpoint.timed(["/y"], 3)
    assert timed.generator == "wrk"
    assert timed.requests > 3, "wrk runs for its duration, not a count"
    assert server.paths() == {"/api/x", "/api/y"}, "a base URL's path prefixes every path"


@needs_wrk
@pytest.mark.integration
async def test_an_endpoint_sends_its_method_and_body_with_either_generator() -> None:
    async with (
        recorder() as (server, url),
        open_endpoint(url, 1, "wrk", 1, {"X-A": "1"}, "PUT", b"{}") as endpoint,
    ):
        await endpoint.fixed(["/x"], 2)
        await endpoint.timed(["/y"], 2)
    assert server.paths() == {"/x", "/y"}
    assert {head.split(b" ")[0] for head in server.heads} == {b"PUT"}
    assert set(server.bodies) == {b"{}"}
    assert all(b"\r\nX-A: 1\r\n" in head for head in server.heads)


@needs_wrk
@pytest.mark.integration
async def test_a_server_that_is_not_there_fails_the_run_with_wrks_words() -> None:
    from agora_cli.infra.ports import free_port

    with pytest.raises(wrk.WrkError, match="unable to connect"):
        await wrk.run(f"http://127.0.0.1:{free_port()}", ["/"], 1, 1)


def test_timed_run_label_names_the_bound_of_each_generator() -> None:
    assert wrk.timed_run_label("wrk", 5, 2000) == "5s a timed run (wrk)"
    assert wrk.timed_run_label("python", 5, 2000) == "2000 requests a timed run (Python generator)"
