"""``agora bench basket``: the set-up, the interleaved rounds with a PUT, the report, a real run.

Like every benchmark test these check what was measured (every path present, the method and body
sent, no errors, shares computed from the matching baseline, the verdict), never how fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from agora_cli.bench import Options, Report, stacks
from agora_cli.bench import basket as bench
from agora_cli.bench import rounds as bench_rounds
from agora_cli.bench.catalog_report import Row
from agora_cli.bench.cpu import CpuUsage
from agora_cli.bench.http_load import LoadResult
from agora_cli.bench.identity import TOKEN_PATH, admin_token
from agora_cli.bench.identity_report import SharesReport, summarize
from agora_cli.bench.load import open_endpoint
from agora_cli.bench.rounds import Request
from agora_cli.bench.stacks import BenchmarkError, Target
from agora_cli.infra.process import write_pid_file
from agora_cli.main import main
from agora_cli.services import BASKET, CATALOG

PATHS = {"hello.uvicorn", "hello.gateway", "get.gateway", "put.gateway", "get.direct", "put.direct"}
EUR = [f"00000000-0000-0000-0000-{index:012d}" for index in range(1, 6)]
GOAL_ARGS = (bench.LABELS, bench.GOAL)


def result(rate: float, p99_ms: float = 20.0) -> LoadResult:
    return LoadResult(100, 0, 100 / rate, generator="wrk", quantiles_ms=(5.0, p99_ms))


def a_round(get_via_gateway: float, p99_ms: float = 20.0) -> list[Row]:
    """Hello-world 4,000 req/s alone and 2,000 via the gateway; the basket's rows."""
    return [
        Row("hello", "uvicorn", "-", result(4000.0), CpuUsage({"hello": 0.01})),
        Row("hello", "gateway", "-", result(2000.0)),
        Row("get", "gateway", "-", result(get_via_gateway, p99_ms)),
        Row("put", "gateway", "-", result(500.0, 900.0)),
        Row("get", "direct", "-", result(1000.0)),
        Row("put", "direct", "-", result(600.0)),
    ]


def test_the_get_via_the_gateway_is_judged_against_35_percent_without_a_p99_bound() -> None:
    facts = summarize([a_round(600.0), a_round(800.0, 500.0), a_round(700.0)], *GOAL_ARGS)
    results = facts["results"]
    assert set(results) == PATHS
    get = results["get.gateway"]
    assert get["share_of_hello_world"] == 0.35, "700 of the hello-world's 2,000 via the gateway"
    assert get["label"] == "GET /basket (3 lines)"
    assert results["put.gateway"]["share_of_hello_world"] == 0.25
    assert results["put.gateway"]["label"] == "PUT /basket/items/{id} (quantity 2)"
    assert results["get.direct"]["share_of_hello_world"] == 0.25, "1,000 of 4,000 alone"
    assert (facts["target_share"], facts["target_p99_ms"]) == (0.35, None)
    assert facts["target"] == "met", "35% is the target; the p99 has no bound"
    assert summarize([a_round(680.0)], *GOAL_ARGS)["target"] == "missed", "34%"
    assert summarize([a_round(2000.0, 5000.0)], *GOAL_ARGS)["target"] == "met"
    assert summarize([a_round(700.0)[:2]], *GOAL_ARGS)["target"] is None, "not measured"


def test_the_report_prints_both_requests_and_the_gets_verdict() -> None:
    facts = {"generator": "wrk", "basket_lines": 3, **summarize([a_round(600.0)], *GOAL_ARGS)}
    report = SharesReport("basket", "Basket", {"cpu": "Z80"}, [], facts, [], bench.GOAL)
    text = report.as_text()
    assert re.search(r"GET /basket \(3 lines\)\s+gateway\s+600\s+5\.0\s+20\.0\s+-\s+0\s+30%", text)
    assert re.search(r"PUT /basket/items/\{id\} \(quantity 2\)\s+gateway\s+500\s+.*\s25%", text)
    assert text.endswith(
        "GET /basket via the gateway ÷ hello-world via the same gateway: 30%, p99 20.0 ms  "
        "[target >= 35%: missed]"
    )
    assert "basket_lines" in text
    assert "target_p99_ms" not in text, "no p99 bound: nothing to print"
    data = report.as_json()
    assert data["target_p99_ms"] is None
    assert data["results"]["put.gateway"]["rounds"][0]["generator"] == "wrk"
    hello = data["results"]["hello.uvicorn"]["rounds"][0]
    assert hello["cpu_us_per_request_by_process"] == {"hello": 100.0}
    assert data["results"]["put.gateway"]["rounds"][0]["cpu_us_per_request_by_process"] is None
    assert data["target"] == "missed"
    json.dumps(data)  # plain JSON values


def test_the_basket_benchmark_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list"]) == 0
    assert re.search(r"\nbasket +GET and PUT of a 3-line basket", capsys.readouterr().out)


def test_a_running_stack_needs_both_urls(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "basket", "--direct-url", "http://d"]) == 2
    assert "--gateway-url and --direct-url" in capsys.readouterr().err


def test_given_urls_are_measured_without_booting_a_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Target, str]] = []
    measured = Report("basket", "Title", {}, [])

    async def measure(target: Target, options: Options) -> Report:
        seen.append((target, options.generator))
        return measured

    def no_stack(*args: object) -> None:
        raise AssertionError("booted a stack")

    monkeypatch.setattr(bench, "measure", measure)
    monkeypatch.setattr(bench_rounds, "private_stack", no_stack)
    options = Options(gateway_url="http://g", direct_url="http://d", generator="python")
    assert bench.run(options) is measured
    assert seen == [(Target("http://g", "http://d", None, "external"), "python")]


def test_a_private_stack_is_seeded_with_the_catalogue_and_measured_on_baskets_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, ...]] = []
    targets: list[Target] = []

    def agora(data_dir: Path, env: dict[str, str], *args: str) -> None:
        calls.append(args)
        if args[0] == "up":  # what `agora up` leaves: a pid file per process
            for role in ("basket", "catalog", "gateway", "identity"):
                write_pid_file(data_dir / "run" / f"{role}.pid", os.getpid())

    async def measure(target: Target, options: Options) -> Report:
        targets.append(target)
        return Report("basket", "Title", {}, [])

    monkeypatch.setattr(stacks, "agora", agora)
    monkeypatch.setattr(bench, "measure", measure)
    bench.run(Options(products=30, generator="python"))
    assert calls == [
        ("up", "--detach"),
        ("seed", "--service", "catalog", "--count", "30"),
        ("down",),
    ]
    (target,) = targets
    assert target.pids == {"basket": os.getpid(), "catalog": os.getpid(), "gateway": os.getpid()}
    assert target.redis_url is not None
    assert target.redis_url.endswith(f"/{BASKET.redis_db}"), "basket's stack target"
    assert target.direct_url != target.gateway_url


def test_a_benchmark_that_cannot_set_up_says_why_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def measure(target: Target, options: Options) -> Report:
        raise BenchmarkError("the catalogue lists 0 active products: run `agora seed`")

    monkeypatch.setattr(bench, "measure", measure)
    argv = ["bench", "basket", "--gateway-url", "http://g", "--direct-url", "http://d"]
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        "agora: the catalogue lists 0 active products: run `agora seed`\n"
    )


def test_the_stacks_pids_include_the_services_asked_for(tmp_path: Path) -> None:
    for role in ("basket", "catalog", "gateway"):
        write_pid_file(tmp_path / "run" / f"{role}.pid", os.getpid())
    assert set(stacks.stack_pids(tmp_path, BASKET)) == {"basket", "gateway"}
    assert set(stacks.stack_pids(tmp_path, BASKET, [CATALOG])) == {"basket", "catalog", "gateway"}


class FakeGateway:
    """A stand-in for the stack's gateway: login, the catalogue's first page, a basket."""

    def __init__(self, products: list[dict[str, Any]], stale: bool = False) -> None:
        self.products = products
        self.stale = stale
        self.lines: list[str] = ["a-line-from-before"]
        self.refuse: str | None = None
        self.calls: list[str] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        if path == TOKEN_PATH:
            return httpx.Response(200, json={"access_token": "t0k"})
        if path == "/api/v1/products":
            assert request.url.params["per_page"] == "20"
            return httpx.Response(200, json={"data": self.products, "total": len(self.products)})
        assert request.headers["Authorization"] == "Bearer t0k"
        if path == self.refuse:
            return httpx.Response(404, json={"title": "Not Found"})
        if request.method == "DELETE":
            self.lines = []
        elif request.method == "PUT":
            assert json.loads(request.content) == {"quantity": 1}
            self.lines.append(path.rsplit("/", 1)[-1])
        # basket orders its lines by name, not as they were added
        lines = [{"product_id": product_id, "quantity": 1} for product_id in self.lines[::-1]]
        return httpx.Response(200, json={"lines": lines, "stale": self.stale})


def product(product_id: str, currency: str = "EUR", active: bool = True) -> dict[str, Any]:
    return {"id": product_id, "currency": currency, "active": active, "price": "9.99"}


@asynccontextmanager
async def gateway_client(fake: FakeGateway) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.MockTransport(fake.answer)
    async with httpx.AsyncClient(transport=transport, base_url="http://g") as client:
        yield client


async def test_three_active_products_of_one_currency_fill_an_emptied_basket() -> None:
    listed = [product(EUR[0]), product(EUR[1], active=False), product(EUR[2], "USD")]
    listed += [product(EUR[3]), product(EUR[4])]
    fake = FakeGateway(listed)
    async with gateway_client(fake) as client:
        token = await admin_token(client, {})
        chosen = await bench.pick_products(client)
        basket = await bench.fill_basket(client, token, chosen)
    assert chosen == [EUR[0], EUR[3], EUR[4]]
    assert [line["product_id"] for line in basket["lines"]] == chosen[::-1]
    assert fake.calls[2:] == [
        "DELETE /api/v1/basket",
        *(f"PUT /api/v1/basket/items/{product_id}" for product_id in chosen),
        "GET /api/v1/basket",
    ]


async def test_a_catalogue_without_three_products_asks_for_agora_seed() -> None:
    async with gateway_client(FakeGateway([product(EUR[0]), product(EUR[1], "USD")])) as client:
        with pytest.raises(BenchmarkError, match=r"lists 1 active products.*agora seed"):
            await bench.pick_products(client)
    async with gateway_client(FakeGateway([])) as client:
        with pytest.raises(BenchmarkError, match="lists 0 active products"):
            await bench.pick_products(client)


async def test_a_refused_put_or_a_stale_basket_stops_the_run() -> None:
    fake = FakeGateway([])
    fake.refuse = f"/api/v1/basket/items/{EUR[1]}"
    async with gateway_client(fake) as client:
        with pytest.raises(BenchmarkError, match=f"PUT {fake.refuse} answered 404"):
            await bench.fill_basket(client, "t0k", EUR[:3])
    async with gateway_client(FakeGateway([], stale=True)) as client:
        with pytest.raises(BenchmarkError, match=r"\(stale: True\).*is catalog up"):
            await bench.fill_basket(client, "t0k", EUR[:3])


def test_the_put_sets_the_first_line_again_as_json() -> None:
    requests = bench.requests_of(EUR[:3])
    assert requests["get"] == Request("/api/v1/basket")
    put = requests["put"]
    assert (put.method, put.path) == ("PUT", f"/api/v1/basket/items/{EUR[0]}")
    assert json.loads(put.body) == {"quantity": 2}
    assert put.headers == {"Content-Type": "application/json"}


@asynccontextmanager
async def recording_server(
    status: bytes = b"200 OK",
) -> AsyncIterator[tuple[list[tuple[str, str, bytes]], str]]:
    """A stand-in for basket: keeps each request's method, path and body; answers ``status``."""
    seen: list[tuple[str, str, bytes]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while head := await reader.readuntil(b"\r\n\r\n"):
                method, path = head.decode().split(" ")[:2]
                length = re.search(r"\r\nContent-Length: (\d+)\r\n", head.decode())
                body = await reader.readexactly(int(length[1])) if length else b""
                seen.append((method, path, body))
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield seen, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        server.close_clients()


async def test_rounds_warm_up_then_time_every_path_with_its_method_and_body(
    capsys: pytest.CaptureFixture[str],
) -> None:
    requests = bench.requests_of(EUR[:3])
    pids = {"basket": os.getpid(), "catalog": os.getpid()}  # no gateway: no reading via it
    options = Options(requests=5, rounds=2, concurrency=2, generator="python")
    run = bench_rounds._Run(
        options, {k: r.path for k, r in requests.items()}, bench.SERVICE_ROLES, pids
    )
    async with recording_server() as (seen, url), contextlib.AsyncExitStack() as stack:
        endpoints = {}
        for kind, via in [("hello", "uvicorn"), ("get", "gateway"), ("put", "direct")]:
            request = requests.get(kind, bench_rounds.HELLO_REQUEST)
            endpoint = open_endpoint(
                url, 2, "python", 1, request.headers, request.method, request.body
            )
            endpoints[kind, via] = await stack.enter_async_context(endpoint)
        await run.warm_up(endpoints)
        assert len(seen) == 6, "one request per connection of every endpoint"
        await run.rounds_of(endpoints)
    assert [[f"{row.kind}.{row.via}" for row in rows] for rows in run.rounds] == [
        ["hello.uvicorn", "get.gateway", "put.direct"]
    ] * 2
    assert {(row.result.requests, row.result.errors) for rows in run.rounds for row in rows} == {
        (5, 0)
    }
    puts = {entry for entry in seen if entry[0] == "PUT"}
    assert puts == {("PUT", f"/api/v1/basket/items/{EUR[0]}", b'{"quantity": 2}')}
    assert {entry for entry in seen if entry[0] == "GET"} == {
        ("GET", "/", b""),
        ("GET", "/api/v1/basket", b""),
    }
    assert len(seen) == 6 + 2 * 3 * 5
    cpu = {f"{row.kind}.{row.via}": row.cpu for row in run.rounds[0]}
    assert cpu["hello.uvicorn"] is None, "no hello pid given"
    assert cpu["get.gateway"] is None, "no gateway pid given"
    assert cpu["put.direct"] is not None
    assert set(cpu["put.direct"].seconds) == {"basket", "catalog"}
    assert "round 2/2: hello.uvicorn" in capsys.readouterr().err


async def test_a_failing_warm_up_stops_the_run() -> None:
    request = bench.requests_of(EUR[:3])["put"]
    run = bench_rounds._Run(Options(), {"put": request.path}, bench.SERVICE_ROLES)
    async with (
        recording_server(b"404 Not Found") as (_seen, url),
        open_endpoint(url, 2, "python", 1, {}, "PUT", request.body) as endpoint,
    ):
        with pytest.raises(BenchmarkError, match=r"PUT http://127.0.0.1:\d+/api/v1/basket"):
            await run.warm_up({("put", "gateway"): endpoint})


def test_rounds_send_the_hello_worlds_then_every_request_via_the_gateway_then_direct() -> None:
    target = Target("http://g", "http://d", None, "external")
    requests = bench.requests_of(EUR[:3])
    sent = bench_rounds._sent(("http://h", "http://hg"), target, requests, {"Authorization": "x"})
    assert list(sent) == [
        ("hello", "uvicorn"),
        ("hello", "gateway"),
        ("get", "gateway"),
        ("put", "gateway"),
        ("get", "direct"),
        ("put", "direct"),
    ]
    assert sent["hello", "gateway"] == ("http://hg", bench_rounds.HELLO_REQUEST, {})
    url, request, headers = sent["put", "direct"]
    assert (url, request) == ("http://d", requests["put"])
    assert headers == {"Authorization": "x", "Content-Type": "application/json"}
    assert sent["get", "gateway"][2] == {"Authorization": "x"}


@pytest.mark.system
def test_bench_basket_boots_fills_the_basket_measures_and_stops_a_private_stack(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["bench", "basket", "--rounds", "1", "--requests", "40", "--duration", "1"]
    assert main([*argv, "--products", "12", "--concurrency", "4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["basket"]
    assert set(report["results"]) == PATHS
    for name, measured in report["results"].items():
        assert measured["errors"] == 0, name
        assert measured["requests_per_second"] > 0, name
    assert report["results"]["get.gateway"]["share_of_hello_world"] > 0
    assert report["results"]["put.gateway"]["rounds"][0]["generator"] == report["generator"]
    assert report["basket_lines"] == 3
    assert report["put"].startswith("PUT /api/v1/basket/items/")
    assert report["generator"] in {"wrk", "python"}
    assert report["target"] in {"met", "missed"}
    assert report["target_p99_ms"] is None
    get = report["results"]["get.gateway"]["rounds"][0]["cpu_us_per_request_by_process"]
    assert set(get) == {"basket", "catalog", "gateway"}, "read from the stack's pid files"
