"""``agora bench storefront``: the set-up, a guest's rounds, the report, the options, a real run.

Like every benchmark test these check what was measured (every path present, no credentials sent,
shares computed from the matching baseline, the verdict), never how fast.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from agora_cli.bench import Options, Report, options_from, stacks
from agora_cli.bench import rounds as bench_rounds
from agora_cli.bench import storefront as bench
from agora_cli.bench.catalog_report import Row
from agora_cli.bench.cpu import CpuUsage
from agora_cli.bench.http_load import LoadResult
from agora_cli.bench.identity_report import SharesReport, summarize
from agora_cli.bench.rounds import Request, Spec
from agora_cli.bench.stacks import BenchmarkError, Target
from agora_cli.infra.process import write_pid_file
from agora_cli.main import build_parser, main
from agora_cli.services import STOREFRONT

PATHS = {"hello.uvicorn", "hello.gateway", "home.gateway", "home.direct"}
GOAL_ARGS = (bench.LABELS, bench.GOAL)
PAGE = '<html><ul><li class="card">a</li><li class="card">b</li></ul></html>'


def result(rate: float, p99_ms: float = 40.0) -> LoadResult:
    return LoadResult(100, 0, 100 / rate, generator="wrk", quantiles_ms=(12.0, p99_ms))


def a_round(home_via_gateway: float, p99_ms: float = 40.0) -> list[Row]:
    """Hello-world 4,000 req/s alone and 2,000 via the gateway; the home page's rows."""
    return [
        Row("hello", "uvicorn", "-", result(4000.0), CpuUsage({"hello": 0.01})),
        Row("hello", "gateway", "-", result(2000.0)),
        Row("home", "gateway", "-", result(home_via_gateway, p99_ms)),
        Row("home", "direct", "-", result(800.0)),
    ]


def test_the_home_page_via_the_gateway_is_judged_against_25_percent_without_a_p99_bound() -> None:
    facts = summarize([a_round(400.0), a_round(600.0, 900.0), a_round(500.0)], *GOAL_ARGS)
    results = facts["results"]
    assert set(results) == PATHS
    home = results["home.gateway"]
    assert home["share_of_hello_world"] == 0.25, "500 of the hello-world's 2,000 via the gateway"
    assert home["label"] == "GET / (product list, guest)"
    assert home["p50_ms"] == 12.0
    assert results["home.direct"]["share_of_hello_world"] == 0.2, "800 of 4,000 alone"
    assert (facts["target_share"], facts["target_p99_ms"]) == (0.25, None)
    assert facts["target"] == "met", "25% is the target; the p99 has no bound"
    assert summarize([a_round(480.0)], *GOAL_ARGS)["target"] == "missed", "24%"
    assert summarize([a_round(2000.0, 5000.0)], *GOAL_ARGS)["target"] == "met"
    assert summarize([a_round(500.0)[:2]], *GOAL_ARGS)["target"] is None, "not measured"


def test_the_report_prints_the_page_next_to_the_baselines_and_the_verdict() -> None:
    facts = {"generator": "wrk", "cards_on_page": 12, **summarize([a_round(300.0)], *GOAL_ARGS)}
    report = SharesReport("storefront", "Storefront", {"cpu": "Z80"}, [], facts, [], bench.GOAL)
    text = report.as_text()
    assert re.search(r"FastAPI hello-world\s+gateway\s+2,000\s+12\.0\s+40\.0\s+-\s+0\s+-", text)
    assert re.search(
        r"GET / \(product list, guest\)\s+gateway\s+300\s+12\.0\s+40\.0\s.*\s15%", text
    )
    assert re.search(r"GET / \(product list, guest\)\s+direct\s+800\s+.*\s20%", text)
    assert text.endswith(
        "GET / (product list) via the gateway ÷ hello-world via the same gateway: 15%, "
        "p99 40.0 ms  [target >= 25%: missed]"
    )
    assert re.search(r"cards_on_page\s+12", text)
    data = report.as_json()
    assert data["target"] == "missed"
    assert data["results"]["home.gateway"]["requests_per_second"] == 300.0
    json.dumps(data)  # plain JSON values


def test_the_storefront_benchmark_is_listed_and_takes_the_http_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "--list"]) == 0
    assert re.search(r"\nstorefront +the shop's home page", capsys.readouterr().out)
    argv = ["bench", "storefront", "--products", "30", "--generator", "python", "--rounds", "2"]
    args = build_parser().parse_args([*argv, "--gateway-url", "http://g", "--direct-url", "d"])
    options = options_from(args)
    assert (args.name, options.products, options.generator, options.rounds) == (
        "storefront",
        30,
        "python",
        2,
    )
    assert (options.gateway_url, options.direct_url, options.concurrency) == ("http://g", "d", None)
    assert options.concurrency_or(bench.SPEC.concurrency) == 32, "32 in flight by default"


def test_a_running_stack_needs_both_urls(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "storefront", "--gateway-url", "http://g"]) == 2
    assert "--gateway-url and --direct-url" in capsys.readouterr().err


def test_a_private_stack_is_seeded_with_the_catalogue_and_measured_on_the_storefronts_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, ...]] = []
    targets: list[Target] = []

    def agora(data_dir: Path, env: dict[str, str], *args: str) -> None:
        calls.append(args)
        if args[0] == "up":  # what `agora up` leaves: a pid file per process
            for role in ("storefront", "catalog", "gateway", "basket"):
                write_pid_file(data_dir / "run" / f"{role}.pid", os.getpid())

    async def measure(target: Target, options: Options) -> Report:
        targets.append(target)
        return Report("storefront", "Title", {}, [])

    monkeypatch.setattr(stacks, "agora", agora)
    monkeypatch.setattr(bench, "measure", measure)
    bench.run(Options(products=30, generator="python"))
    assert calls == [
        ("up", "--detach"),
        ("seed", "--service", "catalog", "--count", "30"),
        ("down",),
    ]
    (target,) = targets
    pid = os.getpid()
    assert target.pids == {"storefront": pid, "catalog": pid, "gateway": pid}
    assert target.redis_url is not None
    assert target.redis_url.endswith(f"/{STOREFRONT.redis_db}"), "the storefront's stack target"
    assert target.direct_url != target.gateway_url


Answer = Callable[[httpx.Request], httpx.Response]


@asynccontextmanager
async def gateway(answer: Answer) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.MockTransport(answer)
    async with httpx.AsyncClient(transport=transport, base_url="http://g") as client:
        yield client


def fake_gateway(total: int = 1200, status: int = 200, page: str = PAGE) -> Answer:
    """The catalogue's count and the home page, as the stack's gateway answers them."""

    def answer(request: httpx.Request) -> httpx.Response:
        assert "Authorization" not in request.headers, "a guest"
        assert "cookie" not in request.headers, "a guest"
        if request.url.path == "/api/v1/products":
            assert request.url.params["per_page"] == "1"
            return httpx.Response(200, json={"data": [], "total": total})
        assert request.url.path == "/"
        return httpx.Response(status, text=page, headers={"Content-Type": "text/html"})

    return answer


async def test_the_set_up_counts_the_catalogue_and_the_cards_of_the_guests_home_page() -> None:
    async with gateway(fake_gateway()) as client:
        assert await bench.catalogue_size(client) == 1200
        assert await bench.home_cards(client) == (2, len(PAGE))


async def test_an_empty_catalogue_asks_for_agora_seed() -> None:
    async with gateway(fake_gateway(total=0)) as client:
        with pytest.raises(
            BenchmarkError, match=r"lists no products.*agora seed --service catalog"
        ):
            await bench.catalogue_size(client)


@pytest.mark.parametrize(
    ("status", "page", "why"),
    [
        (404, PAGE, r"GET / answered 404 \(text/html\): is the storefront up"),
        (503, PAGE, r"answered 503"),
        (200, "<html><p>Nothing here</p></html>", r"GET / shows no product card: is catalog up"),
    ],
)
async def test_a_home_page_that_is_not_a_product_list_stops_the_run(
    status: int, page: str, why: str
) -> None:
    async with gateway(fake_gateway(status=status, page=page)) as client:
        with pytest.raises(BenchmarkError, match=why):
            await bench.home_cards(client)


async def test_measure_times_the_home_page_as_a_guest(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Spec, Mapping[str, Request], str | None, Mapping[str, Any]]] = []
    reported = Report("storefront", "Title", {}, [])

    async def rounds_report(
        spec: Spec,
        target: Target,
        options: Options,
        requests: Mapping[str, Request],
        token: str | None,
        found: Mapping[str, Any],
    ) -> Report:
        seen.append((spec, requests, token, found))
        return reported

    class Client(httpx.AsyncClient):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(transport=httpx.MockTransport(fake_gateway()), **kwargs)

    monkeypatch.setattr(bench, "rounds_report", rounds_report)
    monkeypatch.setattr(httpx, "AsyncClient", Client)
    target = Target("http://g", "http://d", None, "external")
    assert await bench.measure(target, Options()) is reported
    ((spec, requests, token, found),) = seen
    assert spec is bench.SPEC
    assert requests == {"home": Request("/")}
    assert token is None, "no Authorization: a guest"
    assert found == {"catalogue_products": 1200, "cards_on_page": 2, "page_bytes": len(PAGE)}


async def test_a_guests_rounds_send_no_authorization_and_say_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[Mapping[str, str]] = []

    async def interleaved_rounds(*args: Any) -> list[list[Row]]:
        sent.append(args[4])
        return [a_round(500.0)]

    monkeypatch.setattr(bench_rounds, "interleaved_rounds", interleaved_rounds)
    target = Target("http://g", "http://d", None, "external")
    options = Options(generator="python")
    requests = {"home": Request("/")}
    guest = await bench_rounds.rounds_report(bench.SPEC, target, options, requests, None, {})
    admin = await bench_rounds.rounds_report(bench.SPEC, target, options, requests, "t0k", {})
    assert sent == [{}, {"Authorization": "Bearer t0k"}]
    assert guest.environment["token"] == "none: a guest (no Authorization, no cookies)"
    assert admin.environment["token"].startswith("one admin access token")
    assert guest.facts["target"] == "met"
    assert guest.title.startswith("Storefront pages: 32 in flight")


@pytest.mark.system
def test_bench_storefront_boots_renders_measures_and_stops_a_private_stack(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["bench", "storefront", "--rounds", "1", "--requests", "40", "--duration", "1"]
    assert main([*argv, "--products", "12", "--concurrency", "4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["storefront"]
    assert set(report["results"]) == PATHS
    for name, measured in report["results"].items():
        assert measured["errors"] == 0, name
        assert measured["requests_per_second"] > 0, name
    assert report["results"]["home.gateway"]["share_of_hello_world"] > 0
    assert report["catalogue_products"] == 12
    assert report["cards_on_page"] >= 1
    assert report["generator"] in {"wrk", "python"}
    assert report["target"] in {"met", "missed"}
    home = report["results"]["home.gateway"]["rounds"][0]["cpu_us_per_request_by_process"]
    assert set(home) == {"storefront", "catalog", "gateway"}, "read from the stack's pid files"
