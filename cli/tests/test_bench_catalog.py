"""``agora bench catalog``: the scenarios, the server CPU, the report and a tiny real run.

Like every benchmark test these check what was measured (every scenario present, the counts asked
for, no errors, rates above zero), never how fast: speed is the benchmark's output.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from agora_chassis.pagination import MAX_PAGE_DEPTH
from agora_cli.bench import Options, Report, options_from, stacks
from agora_cli.bench import catalog as bench
from agora_cli.bench.catalog_report import KINDS
from agora_cli.bench.load import open_endpoint
from agora_cli.config import PORT_VARIABLES
from agora_cli.infra.process import write_pid_file
from agora_cli.main import build_parser, main

CATALOGUE = [{"id": f"00000000-0000-0000-0000-{index:012d}"} for index in range(250)]
TREE = [
    {"slug": "kitchen", "children": [{"slug": "cookware", "children": []}]},
    {"slug": "garden"},
]
SCENARIOS = {
    f"{kind}.{via}.{cache}"
    for kind in KINDS
    for via in ("gateway", "direct")
    for cache in ("cold", "warm")
} | {
    "hello.uvicorn.-",
    "hello.gateway.-",
    "search_uncached.gateway.miss",
    "search_uncached.direct.miss",
}


def catalogue_page(request: httpx.Request) -> httpx.Response:
    """A stand-in for the catalog: product pages (100 a page), the category tree, products."""
    if request.url.path == bench.CATEGORIES:
        return httpx.Response(200, json=TREE)
    if request.url.path == bench.PRODUCTS:
        page, size = int(request.url.params.get("page", 1)), 100
        data = CATALOGUE[(page - 1) * size : page * size]
        return httpx.Response(200, json={"data": data, "total_pages": 3})
    return httpx.Response(200, json={"id": request.url.path.rsplit("/", 1)[-1]})


@asynccontextmanager
async def catalog_port() -> AsyncIterator[str]:
    """A stand-in for the catalog's own port: a small JSON body for every request; its URL."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"id": "a"}')
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        server.close_clients()


@asynccontextmanager
async def fake_clients(
    count: int, handler: Callable[[httpx.Request], httpx.Response] = catalogue_page
) -> AsyncIterator[list[httpx.AsyncClient]]:
    clients = [
        httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://catalog")
        for _ in range(count)
    ]
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()


class FakeRedis:
    """Counts the flushes the cold runs ask for."""

    def __init__(self) -> None:
        self.flushes = 0

    async def flushdb(self) -> None:
        self.flushes += 1


def test_stack_env_gives_distinct_free_ports_and_raises_the_rate_limit() -> None:
    env = bench.stack_env({"PATH": "/bin", "AGORA_DATA_DIR": "/elsewhere", "AGORA_X": "1"})
    assert "AGORA_DATA_DIR" not in env
    assert "AGORA_X" not in env
    assert env["PATH"] == "/bin"
    assert env["AGORA_RATE_LIMIT"] == bench.RATE_LIMIT
    ports = [int(env[name]) for name in PORT_VARIABLES]
    assert len(set(ports)) == len(ports)
    target = bench.stack_target(env)
    base = int(env["AGORA_SERVICE_PORT_BASE"])
    assert target.gateway_url == f"http://127.0.0.1:{env['AGORA_GATEWAY_PORT']}"
    assert target.direct_url == f"http://127.0.0.1:{base + 2}"
    assert target.redis_url == f"redis://127.0.0.1:{env['AGORA_REDIS_PORT']}/2"


def test_the_catalog_benchmark_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list"]) == 0
    listing = capsys.readouterr().out
    assert re.search(r"\ncatalog +product reads via the gateway and direct", listing), listing


def test_catalog_options_are_parsed() -> None:
    argv = ["bench", "catalog", "--requests", "10", "--cold-passes", "2", "--products", "50"]
    argv += ["--gateway-url", "http://g", "--direct-url", "http://d", "--redis-url", "redis://r"]
    options = options_from(build_parser().parse_args(argv))
    assert (options.requests, options.cold_passes, options.products) == (10, 2, 50)
    assert (options.gateway_url, options.direct_url, options.redis_url) == (
        "http://g",
        "http://d",
        "redis://r",
    )
    assert options.concurrency_or(32) == 32
    assert Options(concurrency=4).concurrency_or(32) == 4


@pytest.mark.parametrize(
    "urls",
    [["--gateway-url", "http://g"], ["--direct-url", "http://d"], ["--redis-url", "redis://r"]],
)
def test_a_running_stack_needs_both_urls(
    urls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "catalog", *urls]) == 2
    assert "--gateway-url and --direct-url" in capsys.readouterr().err


def test_given_urls_are_measured_without_booting_a_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bench.Target] = []
    measured = Report("catalog", "Title", {}, [])

    async def measure(target: bench.Target, options: Options) -> Report:
        seen.append(target)
        return measured

    def no_stack(products: int | None) -> None:
        raise AssertionError("booted a stack")

    monkeypatch.setattr(bench, "measure", measure)
    monkeypatch.setattr(bench, "private_stack", no_stack)
    assert bench.run(Options(gateway_url="http://g", direct_url="http://d")) is measured
    assert seen == [bench.Target("http://g", "http://d", None, "external")]


def test_the_private_stack_is_always_stopped_and_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, ...]] = []
    data_dirs: list[Path] = []

    def agora(data_dir: Path, env: dict[str, str], *args: str) -> None:
        calls.append(args)
        data_dirs.append(data_dir)
        if args[0] == "seed":
            raise bench.BenchmarkError("agora seed failed")

    monkeypatch.setattr(stacks, "agora", agora)
    with pytest.raises(bench.BenchmarkError, match="seed failed"), bench.private_stack(30):
        pass
    assert calls == [
        ("up", "--detach"),
        ("seed", "--service", "catalog", "--count", "30"),
        ("down",),
    ]
    assert not data_dirs[0].exists()


def terminate_self() -> None:
    """Send this process SIGTERM; its handler runs before this returns."""
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(1)  # interrupted by the handler's exception


def test_signals_end_the_run_through_agora_down(monkeypatch: pytest.MonkeyPatch) -> None:
    handlers: dict[str, object] = {}

    def agora(data_dir: Path, env: dict[str, str], *args: str) -> None:
        handlers[args[0]] = signal.getsignal(signal.SIGTERM)

    monkeypatch.setattr(stacks, "agora", agora)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), bench.private_stack(None):
        terminate_self()
    assert handlers == {
        "up": signal.default_int_handler,
        "seed": signal.default_int_handler,
        "down": signal.SIG_IGN,  # a second signal cannot abandon a half-stopped stack
    }
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_interrupted_benchmark_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(options: Options) -> Report:
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "run", interrupted)
    assert main(["bench", "catalog"]) == 130
    assert "agora: interrupted" in capsys.readouterr().err


def test_a_failed_down_keeps_the_data_dir_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dirs: list[Path] = []

    def agora(data_dir: Path, env: dict[str, str], *args: str) -> None:
        data_dirs.append(data_dir)
        if args[0] == "down":
            raise bench.BenchmarkError("agora down failed")

    monkeypatch.setattr(stacks, "agora", agora)
    with bench.private_stack(None) as target:
        assert target.origin == "private stack"
    assert "stop the stack in" in capsys.readouterr().err
    assert data_dirs[0].exists()
    data_dirs[0].rmdir()


def test_a_failing_agora_command_reports_its_output(tmp_path: Path) -> None:
    with pytest.raises(bench.BenchmarkError) as failed:
        bench.agora(tmp_path, {"PATH": "/usr/bin:/bin"}, "no-such-command")
    assert str(failed.value).startswith("agora no-such-command failed:\n")
    assert "invalid choice: 'no-such-command'" in str(failed.value)


def test_a_hanging_agora_command_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stacks, "COMMAND_TIMEOUT_SECONDS", 0.001)
    with pytest.raises(bench.BenchmarkError, match="agora status took over"):
        bench.agora(tmp_path, {"PATH": "/usr/bin:/bin"}, "status")


async def test_scenarios_read_the_catalogue_and_its_categories() -> None:
    async with fake_clients(1) as (client,):
        paths = await bench.scenario_paths(client)
    assert len(paths["product"]) == bench.PRODUCT_IDS
    assert paths["product"][1] == f"{bench.PRODUCTS}/{CATALOGUE[1]['id']}"
    assert len(set(paths["product"])) == bench.PRODUCT_IDS
    assert len(paths["list"]) == len(bench.SORTS) * len(bench.PAGE_SIZES)
    assert len(paths["filtered"]) == 3 * len(bench.PRICE_BANDS)
    assert "category=cookware&in_stock=true&min_price=0&max_price=25" in paths["filtered"][3]
    assert paths["search"][0] == f"{bench.PRODUCTS}?q=cast+iron+skillet"


async def test_sample_ids_of_a_huge_catalogue_stops_at_the_paging_depth() -> None:
    pages: list[int] = []

    def huge(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        pages.append(page)
        if page * int(request.url.params["per_page"]) > MAX_PAGE_DEPTH:
            return httpx.Response(422, json={"detail": "too deep"})
        return httpx.Response(200, json={"data": [{"id": f"p{page}"}], "total_pages": 10**6})

    async with fake_clients(1, huge) as (client,):
        ids = await bench.sample_ids(client, 10)

    assert len(ids) == 10
    assert max(pages) * bench.SAMPLE_PAGE_SIZE == MAX_PAGE_DEPTH


async def test_an_empty_catalogue_is_refused() -> None:
    def empty(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [], "total_pages": 0})

    async with fake_clients(1, empty) as (client,):
        with pytest.raises(bench.BenchmarkError, match="empty"):
            await bench.sample_ids(client, 10)


async def test_cold_runs_flush_before_each_pass_and_warm_runs_count_requests(
    capsys: pytest.CaptureFixture[str],
) -> None:
    redis = FakeRedis()
    run = bench._Run(Options(requests=7, cold_passes=2, concurrency=3), redis)  # type: ignore[arg-type]
    paths = ["/api/v1/products/a", "/api/v1/products/b"]
    async with (
        catalog_port() as url,
        open_endpoint(url, 3) as gateway,
        open_endpoint(url, 3) as direct,
    ):
        await run.read("product", paths, {"gateway": gateway, "direct": direct})
    assert redis.flushes == 4
    counts = {row.key: (row.result.requests, row.result.errors) for row in run.rows}
    assert counts == {
        "product.gateway.cold": (4, 0),
        "product.gateway.warm": (7, 0),
        "product.direct.cold": (4, 0),
        "product.direct.warm": (7, 0),
    }
    assert all(row.cpu is None for row in run.rows)  # the processes are unknown
    assert "product by id, direct, warm:" in capsys.readouterr().err


async def test_without_redis_there_are_no_cold_runs() -> None:
    run = bench._Run(Options(requests=3, concurrency=2), None)
    async with catalog_port() as url, open_endpoint(url, 2) as clients:
        await run.read("search", ["/api/v1/products?q=x"], {"gateway": clients})
    assert [row.key for row in run.rows] == ["search.gateway.warm"]


async def test_runs_read_the_cpu_of_the_processes_serving_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    redis = FakeRedis()
    pids = {"catalog": os.getpid(), "gateway": os.getpid()}  # the stand-in runs in this process
    run = bench._Run(Options(requests=50, cold_passes=2, concurrency=2), redis, pids)  # type: ignore[arg-type]
    async with catalog_port() as url, open_endpoint(url, 2) as clients:
        await run.read("product", ["/a", "/b"], {"gateway": clients, "direct": clients})
    roles = {row.key: sorted(row.cpu.seconds) for row in run.rows if row.cpu is not None}
    assert roles == {
        "product.gateway.cold": ["catalog", "gateway"],
        "product.gateway.warm": ["catalog", "gateway"],
        "product.direct.cold": ["catalog"],
        "product.direct.warm": ["catalog"],
    }
    assert all((row.cpu_us or 0) >= 0 for row in run.rows)
    assert "server CPU" in capsys.readouterr().err
    run = bench._Run(Options(requests=3, concurrency=2), None, {"catalog": os.getpid()})
    async with catalog_port() as url, open_endpoint(url, 2) as clients:
        await run.read("product", ["/a"], {"gateway": clients, "direct": clients})
    assert [row.cpu is None for row in run.rows] == [True, False]  # no gateway pid: no reading


async def test_target_rounds_time_the_hello_world_then_cached_reads_in_a_row(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = bench._Run(Options(requests=5, rounds=3, concurrency=2), None)
    async with (
        catalog_port() as url,
        open_endpoint(url, 2) as hello,
        open_endpoint(url, 2) as hello_via_gateway,
        open_endpoint(url, 2) as gateway,
        open_endpoint(url, 2) as direct,
    ):
        await run.target_rounds(
            {"uvicorn": hello, "gateway": hello_via_gateway},
            ["/a", "/b"],
            {"gateway": gateway, "direct": direct},
        )

    keys = [[row.key for row in rows] for rows in run.rounds]
    assert (
        keys
        == [["hello.uvicorn.-", "hello.gateway.-", "product.gateway.warm", "product.direct.warm"]]
        * 3
    )
    assert {(row.result.requests, row.result.errors) for rows in run.rounds for row in rows} == {
        (5, 0)
    }
    assert run.rows == []  # the table keeps the scenarios; the rounds feed the ratios
    assert "target round 3/3: hello-world ÷ cached product by id" in capsys.readouterr().err
    assert all(row.cpu is None for rows in run.rounds for row in rows)  # no pids known


def test_the_environment_says_whose_cpu_is_read() -> None:
    known = bench.Target("http://g", "http://d", None, "private stack", {"catalog": 12})
    environment = bench._environment(known, Options(concurrency=4, generator="python"))
    assert environment["server cpu"].startswith("user + system CPU time (psutil): catalog")
    assert "asyncio streams + httptools" in environment["client"]
    assert environment["generator"] == "python"
    external = bench.Target("http://g", "http://d", None, "external")
    assert (
        "processes are unknown"
        in bench._environment(external, Options(generator="wrk"))["server cpu"]
    )


def test_the_stacks_pids_come_from_its_pid_files(tmp_path: Path) -> None:
    assert bench.stack_pids(tmp_path) == {}
    write_pid_file(tmp_path / "run" / "catalog.pid", os.getpid())
    assert bench.stack_pids(tmp_path) == {"catalog": os.getpid()}
    write_pid_file(tmp_path / "run" / "gateway.pid", os.getppid())
    assert bench.stack_pids(tmp_path) == {"catalog": os.getpid(), "gateway": os.getppid()}
    target = bench.stack_target(bench.stack_env({}), {"gateway": 7})
    assert target.pids == {"gateway": 7}


@pytest.mark.system
def test_bench_catalog_boots_seeds_measures_and_stops_a_private_stack(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["bench", "catalog", "--products", "40", "--requests", "40", "--cold-passes", "1"]
    # The Python generator sends exactly --requests (wrk runs for a duration: test_bench_wrk.py).
    assert main([*argv, "--concurrency", "4", "--generator", "python", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)["catalog"]
    assert set(report["results"]) == SCENARIOS
    distinct = report["distinct_requests"]
    assert distinct["product"] == 40  # every seeded product, 40 < 200
    for key, measured in report["results"].items():
        kind, _via, cache = key.split(".")
        expected = distinct[kind] if cache == "cold" else 40
        assert (measured["requests"], measured["errors"]) == (expected, 0), key
        assert measured["requests_per_second"] > 0
        assert measured["p99_ms"] >= measured["p50_ms"] > 0
    assert report["errors"] == 0
    assert report["hello_world_vs_cached_product_via_gateway"] > 0
    assert report["hello_world_vs_cached_product_direct"] > 0
    assert "cpu_cached_product_via_gateway_vs_hello_world" in report
    gateway = report["results"]["product.gateway.warm"]["cpu_us_per_request_by_process"]
    assert set(gateway) == {"catalog", "gateway"}  # read from the private stack's pid files
    hello = report["results"]["hello.gateway.-"]["cpu_us_per_request_by_process"]
    assert set(hello) == {"hello", "hello_gateway"}
    assert len(report["rounds"]) == 3
    assert report["hello_world_via_gateway_vs_cached_product_via_gateway"] > 0
    assert "user + system CPU time" in report["environment"]["server cpu"]
    assert report["environment"]["stack"] == "private stack"
    assert report["generator"] == report["environment"]["generator"] == "python"
    assert {measured["generator"] for measured in report["results"].values()} == {"python"}
    assert report["share_target"] in {"met", "missed"}
    assert "stopping it (agora down) ... ok" in captured.err
    booted = re.search(r"booting a private stack in (\S+)", captured.err)
    assert booted is not None
    assert not Path(booted.group(1)).exists()
