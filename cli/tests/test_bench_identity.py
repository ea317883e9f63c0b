"""``agora bench identity``: login, the list filled, interleaved rounds, medians and shares.

Like every benchmark test these check what was measured (every path present, the counts asked
for, no errors, shares computed from the matching baseline), never how fast.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

from agora_cli.bench import Options, Report
from agora_cli.bench import identity as bench
from agora_cli.bench.catalog_report import Row
from agora_cli.bench.cpu import CpuUsage
from agora_cli.bench.http_load import LoadResult
from agora_cli.bench.identity_report import SharesReport, summarize
from agora_cli.main import main

PATHS = {
    "hello.uvicorn",
    "hello.gateway",
    "me.gateway",
    "me.direct",
    "users.gateway",
    "users.direct",
}


def result(rate: float, p99_ms: float = 20.0) -> LoadResult:
    return LoadResult(100, 0, 100 / rate, generator="wrk", quantiles_ms=(5.0, p99_ms))


def a_round(me_via_gateway: float, p99_ms: float = 20.0) -> list[Row]:
    """Hello-world 4,000 req/s alone and 2,000 via the gateway; /users/me direct 1,000."""
    return [
        Row("hello", "uvicorn", "-", result(4000.0), CpuUsage({"hello": 0.01})),
        Row("hello", "gateway", "-", result(2000.0)),
        Row("me", "gateway", "-", result(me_via_gateway, p99_ms)),
        Row("me", "direct", "-", result(1000.0)),
        Row("users", "gateway", "-", result(300.0)),
        Row("users", "direct", "-", result(400.0)),
    ]


def test_shares_are_of_the_matching_hello_world_and_medians_over_rounds() -> None:
    facts = summarize([a_round(500.0), a_round(700.0, 80.0), a_round(600.0, 40.0)])
    results = facts["results"]
    assert set(results) == PATHS
    me = results["me.gateway"]
    assert me["share_of_hello_world"] == 0.3, "600 of the hello-world's 2,000 via the gateway"
    assert (me["requests_per_second"], me["p99_ms"]) == (600.0, 40.0)
    assert results["me.direct"]["share_of_hello_world"] == 0.25, "1,000 of 4,000 alone"
    assert results["hello.uvicorn"]["share_of_hello_world"] is None
    assert results["hello.uvicorn"]["cpu_us_per_request"] == 100.0
    assert results["me.direct"]["cpu_us_per_request"] is None
    assert len(me["rounds"]) == 3
    assert facts["target"] == "met"
    assert summarize([a_round(500.0)])["target"] == "missed", "25% is under the 30% target"
    assert summarize([a_round(700.0, 61.0)])["target"] == "missed", "p99 over 60 ms"


def test_the_report_prints_the_medians_and_the_verdict() -> None:
    facts = {"generator": "wrk", **summarize([a_round(500.0)])}
    report = SharesReport("identity", "Identity reads", {"cpu": "Z80"}, [], facts, [])
    text = report.as_text()
    assert re.search(r"GET /users/me\s+gateway\s+500\s+5\.0\s+20\.0\s+-\s+0\s+25%", text), text
    assert re.search(r"FastAPI hello-world\s+uvicorn\s+4,000\s+5\.0\s+20\.0\s+100\s+0\s+-", text)
    assert "[target >= 30%, p99 <= 60 ms: missed]" in text
    assert "generator" in text
    data = report.as_json()
    assert data["results"]["me.gateway"]["rounds"][0]["generator"] == "wrk"
    json.dumps(data)  # plain JSON values


def test_the_identity_benchmark_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list"]) == 0
    assert re.search(r"\nidentity +authenticated database-backed reads", capsys.readouterr().out)


def test_a_running_stack_needs_both_urls(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "identity", "--gateway-url", "http://g"]) == 2
    assert "--gateway-url and --direct-url" in capsys.readouterr().err


def test_given_urls_are_measured_without_booting_a_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bench.Target, str]] = []
    measured = Report("identity", "Title", {}, [])

    async def measure(target: bench.Target, options: Options) -> Report:
        seen.append((target, options.generator))
        return measured

    monkeypatch.setattr(bench, "measure", measure)
    options = Options(gateway_url="http://g", direct_url="http://d", generator="python")
    assert bench.run(options) is measured
    assert seen == [(bench.Target("http://g", "http://d", None, "external"), "python")]


def identity(total: int, registered: list[str], status: int = 201) -> httpx.MockTransport:
    """A stand-in for identity: the token endpoint, a list of ``total`` users, registration."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == bench.TOKEN_PATH:
            ok = b"password=Admin123%21" in request.content
            return httpx.Response(200 if ok else 401, json={"access_token": "t0k"})
        if request.url.path == bench.REGISTER_PATH:
            registered.append(json.loads(request.content)["email"])
            return httpx.Response(status)
        assert request.headers["Authorization"] == "Bearer t0k"
        return httpx.Response(200, json={"total": total, "data": []})

    return httpx.MockTransport(answer)


async def test_login_then_the_list_is_filled_to_a_page() -> None:
    registered: list[str] = []
    async with httpx.AsyncClient(transport=identity(3, registered), base_url="http://i") as client:
        token = await bench.admin_token(client, {})
        assert token == "t0k"
        assert await bench.fill_user_list(client, token) == bench.PAGE_SIZE
    assert len(registered) == bench.PAGE_SIZE - 3
    assert registered[0] == "bench-00@bench.example"
    full: list[str] = []
    async with httpx.AsyncClient(transport=identity(25, full), base_url="http://i") as client:
        assert await bench.fill_user_list(client, "t0k") == 25
    assert full == []


async def test_a_refused_login_or_registration_stops_the_run() -> None:
    async with httpx.AsyncClient(transport=identity(0, []), base_url="http://i") as client:
        with pytest.raises(bench.BenchmarkError, match="admin login as a@b refused"):
            await bench.admin_token(
                client, {"AGORA_ADMIN_EMAIL": "a@b", "AGORA_ADMIN_PASSWORD": "x"}
            )
    refusing = identity(0, [], status=429)
    async with httpx.AsyncClient(transport=refusing, base_url="http://i") as client:
        with pytest.raises(bench.BenchmarkError, match="registering a bench account: 429"):
            await bench.fill_user_list(client, "t0k")


@pytest.mark.system
def test_bench_identity_boots_logs_in_measures_and_stops_a_private_stack(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["bench", "identity", "--rounds", "1", "--requests", "40", "--duration", "1"]
    assert main([*argv, "--concurrency", "4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["identity"]
    assert set(report["results"]) == PATHS
    for name, measured in report["results"].items():
        assert measured["errors"] == 0, name
        assert measured["requests_per_second"] > 0, name
    assert report["results"]["me.gateway"]["share_of_hello_world"] > 0
    assert report["users_listed"] == 20
    assert report["generator"] in {"wrk", "python"}
    assert report["target"] in {"met", "missed"}
