"""The catalog benchmark's report: the table, the ratios to the baselines, their medians."""

from __future__ import annotations

import re

from agora_cli.bench import Options
from agora_cli.bench import catalog as bench
from agora_cli.bench.catalog_report import KINDS, CatalogReport, Row
from agora_cli.bench.cpu import CpuUsage
from agora_cli.bench.http_load import LoadResult


def result(rate: float, requests: int = 10) -> LoadResult:
    return LoadResult(requests, 0, requests / rate, tuple(0.001 * n for n in range(1, 11)))


def cpu(requests: int = 10, **us_per_request: float) -> CpuUsage:
    """The usage of ``requests`` requests costing so many microseconds each, by role."""
    return CpuUsage({role: us * requests / 1e6 for role, us in us_per_request.items()})


def rounds_of(*gateway_rates: float) -> list[list[Row]]:
    """Rounds of a 900 req/s hello-world (720 via the gateway) against cached reads at these rates
    via the gateway."""
    return [
        [
            Row("hello", "uvicorn", "-", result(900.0), cpu(hello=300.0)),
            Row("hello", "gateway", "-", result(720.0), cpu(hello=300.0, hello_gateway=200.0)),
            Row("product", "gateway", "warm", result(rate), cpu(catalog=600.0, gateway=300.0)),
            Row("product", "direct", "warm", result(600.0), cpu(catalog=450.0)),
        ]
        for rate in gateway_rates
    ]


def test_the_ratios_are_medians_over_the_rounds() -> None:
    run = bench._Run(Options(requests=10, concurrency=4), None)
    run.rows = measured_rows()  # a single run missing the target, 3.0
    run.rounds = rounds_of(300.0, 600.0, 500.0)  # 3.0, 1.5, 1.8

    facts = bench.facts(run, {kind: ["/x"] for kind in KINDS})

    assert facts["hello_world_vs_cached_product_via_gateway"] == 1.8
    assert facts["hello_world_vs_cached_product_direct"] == 1.5
    assert facts["hello_world_via_gateway_vs_cached_product_via_gateway"] == 1.44  # 720 ÷ 500
    assert facts["cpu_cached_product_via_gateway_vs_hello_world"] == 3.0
    assert facts["within_target"] is True
    assert [ratios["hello_world_vs_cached_product_via_gateway"] for ratios in facts["rounds"]] == [
        3.0,
        1.5,
        1.8,
    ]
    report = CatalogReport("catalog", "Title", {"cpu": "Z80"}, [], facts, tuple(run.rows))
    text = report.as_text()
    assert re.search(
        r"via the gateway\s+1\.80  \(median of 3 interleaved rounds: 3\.00, 1\.50, 1\.80\)"
        r"  \[target 2: within it\]",
        text,
    )
    assert re.search(r"direct \(catalog\)\s+1\.50  \(median of 3 interleaved rounds", text)
    assert re.search(r"both via the gateway\s+1\.44  \(median of 3 interleaved rounds", text)
    assert "rounds" not in text.split("throughput,")[0]  # not repeated among the settings
    assert report.as_json()["within_target"] is True
    share = "cached_product_via_gateway_share_of_hello_world_via_gateway"
    assert [ratios[share] for ratios in facts["rounds"]] == [0.417, 0.833, 0.694]
    assert (facts[share], facts["cached_product_via_gateway_p99_ms"]) == (0.69, 10.0)
    assert facts["share_target"] == "missed", "69% is under the 70% target"
    assert re.search(
        r"hello-world via the same gateway: 69%, p99 10\.0 ms \(median of 3 rounds: 42%, 83%, "
        r"69%; p99 10\.0, 10\.0, 10\.0\)  \[target >= 70%, p99 <= 25 ms: missed\]",
        text,
    ), text


def measured_rows(with_cpu: bool = True) -> list[Row]:
    """Hello-world 900 req/s at 300 µs (720 via the gateway); product 300 (gateway) and 450
    (direct) req/s."""
    return [
        Row("hello", "uvicorn", "-", result(900.0), cpu(hello=300.0)),
        Row("hello", "gateway", "-", result(720.0), cpu(hello=300.0, hello_gateway=200.0)),
        Row(
            "product",
            "gateway",
            "warm",
            result(300.0),
            cpu(catalog=900.0, gateway=300.0) if with_cpu else None,
        ),
        Row("product", "direct", "warm", result(450.0), cpu(catalog=600.0) if with_cpu else None),
    ]


def test_report_prints_a_table_and_the_ratios_to_the_baseline() -> None:
    run = bench._Run(Options(requests=10, concurrency=4), None)
    run.rows = measured_rows()
    paths = {kind: ["/x"] for kind in KINDS}
    facts = bench.facts(run, paths)
    assert facts["hello_world_vs_cached_product_via_gateway"] == 3.0
    assert facts["hello_world_vs_cached_product_direct"] == 2.0
    assert facts["within_target"] is False
    assert facts["cpu_cached_product_via_gateway_vs_hello_world"] == 4.0
    assert facts["cpu_cached_product_direct_vs_hello_world"] == 2.0
    report = CatalogReport("catalog", "Title", {"cpu": "Z80"}, [], facts, tuple(run.rows))
    text = report.as_text()
    assert re.search(r"product by id\s+gateway\s+warm\s+10\s+300\s+5\.0\s+10\.0\s+1,200\s+0", text)
    assert re.search(r"FastAPI hello-world\s+uvicorn\s+-\s+10\s+900\s+5\.0\s+10\.0\s+300\s+0", text)
    assert "distinct_requests" in text
    assert "product 1, list 1" in text
    assert re.search(
        r"via the gateway\s+3\.00  \(900 req/s ÷ 300 req/s\)  \[target 2: missed\]", text
    )
    assert re.search(r"direct\s+2\.00  \(900 req/s ÷ 450 req/s\)\n", text)
    assert re.search(r"both via the gateway\s+2\.40  \(720 req/s ÷ 300 req/s\)\n", text)
    assert facts["hello_world_via_gateway_vs_cached_product_via_gateway"] == 2.4
    assert re.search(r"\(catalog \+ gateway\)\s+4\.00  \(1,200 µs ÷ 300 µs\)", text)
    assert re.search(r"direct \(catalog\)\s+2\.00  \(600 µs ÷ 300 µs\)", text)
    assert "within_target" not in text  # said in the summary instead
    results = report.as_json()["results"]
    assert results["product.gateway.warm"]["requests_per_second"] == 300.0
    assert results["product.gateway.warm"]["cpu_us_per_request"] == 1200.0
    assert results["product.gateway.warm"]["cpu_us_per_request_by_process"] == {
        "catalog": 900.0,
        "gateway": 300.0,
    }
    assert results["hello.uvicorn.-"]["label"] == "FastAPI hello-world"
    assert report.as_json()["within_target"] is False


def test_without_cpu_readings_the_report_shows_dashes_and_no_cpu_ratios() -> None:
    run = bench._Run(Options(requests=10, concurrency=4), None)
    run.rows = measured_rows(with_cpu=False)
    facts = bench.facts(run, {kind: ["/x"] for kind in KINDS})
    assert facts["cpu_cached_product_via_gateway_vs_hello_world"] is None
    assert facts["cpu_cached_product_direct_vs_hello_world"] is None
    report = CatalogReport("catalog", "Title", {"cpu": "Z80"}, [], facts, tuple(run.rows))
    text = report.as_text()
    assert re.search(r"product by id\s+direct\s+warm\s+10\s+450\s+5\.0\s+10\.0\s+-\s+0", text)
    assert re.search(r"(?m)direct \(catalog\) +-$", text)
    results = report.as_json()["results"]
    assert results["product.direct.warm"]["cpu_us_per_request"] is None
    assert results["product.direct.warm"]["cpu_us_per_request_by_process"] is None
    assert results["hello.uvicorn.-"]["cpu_us_per_request"] == 300.0
