"""``agora bench``: options, reports, and tiny runs of the relay benchmark on real servers.

The runs check what was measured (every event moved, nothing pending, rates present), never how
fast: speed is the benchmark's output, not something a test can hold a machine to.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agora_cli.bench import BROKER_URL_ENV, DATABASE_URL_ENV, Measurement, Report, options_from
from agora_cli.bench import relay as relay_bench
from agora_cli.bench.servers import machine_info, without_credentials
from agora_cli.main import build_parser, main
from agora_cli.testdb import ASYNCPG_SCHEME, with_scheme

RABBITMQ_URL_ENV = "AGORA_TEST_RABBITMQ_URL"
PATHS = {"raw_one_by_one", "raw_concurrent", "relay"}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["bench", *argv, "--json"]) == 0
    output: dict[str, Any] = json.loads(capsys.readouterr().out)
    return output


def assert_complete(report: dict[str, Any], events: int, rounds: int) -> None:
    """Every path moved every event in every round, and the relay left nothing pending."""
    assert set(report["results"]) == PATHS
    for result in report["results"].values():
        assert result["events"] == events
        assert len(result["seconds"]) == rounds
        assert result["events_per_second"] > 0
    assert (report["events"], report["published"], report["pending"]) == (events, events, 0)
    assert report["relay_vs_raw_one_by_one"] > 0
    assert report["relay_vs_raw_concurrent"] > 0
    assert {"cpu", "cpus", "python", "broker", "database"} <= set(report["environment"])


def test_bench_list_names_every_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list"]) == 0
    assert "relay" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["-n", "0"], ["--warmup", "-1"], ["nothing"]])
def test_bench_refuses_bad_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", *argv])


def test_bench_options_take_urls_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BROKER_URL_ENV, "amqp://guest:guest@127.0.0.1:5672/")
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://postgres@127.0.0.1:5432/bench")
    options = options_from(build_parser().parse_args(["bench", "-n", "300"]))
    assert options.broker_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert options.database_url == "postgresql://postgres@127.0.0.1:5432/bench"
    assert (options.events, options.warmup_events, options.batch_size) == (300, 30, None)
    given = build_parser().parse_args(["bench", "--broker-url", "nats://h:1", "--warmup", "0"])
    assert (options_from(given).broker_url, options_from(given).warmup_events) == ("nats://h:1", 0)


def test_report_prints_rates_as_text_and_json() -> None:
    measurement = Measurement("relay", "outbox relay", 100, (0.5, 0.25, 1.0))
    report = Report("relay", "Title", {"cpu": "Z80"}, [measurement], {"published": 100})
    assert measurement.events_per_second == 200
    text = report.as_text()
    assert text.startswith("Title\n")
    assert "outbox relay  100     200       0.500" in text
    assert report.as_json()["results"]["relay"]["seconds"] == [0.5, 0.25, 1.0]
    assert report.as_json()["published"] == 100


def test_machine_info_reads_proc_and_falls_back(tmp_path: Path) -> None:
    assert machine_info(tmp_path)["memory"] == "unknown"
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nmodel name\t: Test CPU 9000\n")
    (tmp_path / "meminfo").write_text("MemTotal:       16777216 kB\n")
    info = machine_info(tmp_path)
    assert (info["cpu"], info["memory"], info["cpus"]) == (
        "Test CPU 9000",
        "16.0 GiB",
        str(os.cpu_count()),
    )


def test_urls_are_printed_without_credentials() -> None:
    assert without_credentials("amqp://guest:secret@127.0.0.1:5672/") == "amqp://127.0.0.1:5672/"
    assert without_credentials("nats://localhost") == "nats://localhost"


def test_envelopes_are_deterministic_and_encoded_like_the_relay() -> None:
    first = relay_bench.envelope(7, round_number=1)
    assert relay_bench.envelope(7, round_number=1) == first
    assert relay_bench.envelope(7, round_number=2)["id"] != first["id"]
    assert first["subject"] == relay_bench.envelope(7 + relay_bench.SUBJECTS, 1)["subject"]
    encoded = relay_bench.message(first)
    assert json.loads(encoded.body) == first
    assert encoded.headers["ce-id"] == first["id"]
    assert encoded.headers["traceparent"] == first["traceparent"]


@pytest.mark.integration
def test_bench_relay_moves_every_event_on_given_servers(
    make_database: Callable[[str], str], nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    database_url = with_scheme(make_database("bench"), "postgresql")  # any postgresql scheme
    argv = ["relay", "-n", "50", "--rounds", "2", "--warmup", "5", "--batch-size", "20"]
    output = run_json(capsys, *argv, "--database-url", database_url, "--broker-url", nats_url)
    report = output["relay"]
    assert_complete(report, events=50, rounds=2)
    assert "external" in report["environment"]["broker"]
    assert "20 rows per transaction" in report["results"]["relay"]["label"]


@pytest.mark.integration
def test_bench_starts_embedded_servers_by_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(BROKER_URL_ENV, raising=False)
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    assert main(["bench", "relay", "-n", "20", "--rounds", "1", "--warmup", "0"]) == 0
    captured = capsys.readouterr()
    assert "median of 1 round" in captured.out
    assert "NATS" in captured.out
    assert "embedded" in captured.out
    assert "events/s" in captured.out
    assert "starting embedded PostgreSQL ... ok" in captured.err


@pytest.mark.integration
def test_bench_relay_on_rabbitmq(
    make_database: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    rabbitmq_url = os.environ.get(RABBITMQ_URL_ENV)
    if not rabbitmq_url:
        pytest.skip(f"{RABBITMQ_URL_ENV} is not set: no RabbitMQ to measure")
    database_url = make_database("bench")
    argv = ["relay", "-n", "30", "--rounds", "1", "--database-url", database_url]
    report = run_json(capsys, *argv, "--broker-url", rabbitmq_url)["relay"]
    assert_complete(report, events=30, rounds=1)
    assert report["environment"]["broker"].startswith("RabbitMQ")


class RefusingBroker:
    """Stands in for a broker that refuses every message."""

    async def publish(self, *_args: object, **_kwargs: object) -> None:
        raise ConnectionError("broker down")


@pytest.fixture
def bench_database_url(make_database: Callable[[str], str]) -> str:
    """A fresh database, made outside the test's event loop (creating it runs its own loop)."""
    return make_database("bench")


@pytest.mark.integration
async def test_bench_relay_stops_when_the_broker_refuses(bench_database_url: str) -> None:
    from agora_chassis.db import create_engine, create_sessionmaker

    engine = create_engine(with_scheme(bench_database_url, ASYNCPG_SCHEME))
    try:
        async with relay_bench.bench_table(engine):
            sessionmaker = create_sessionmaker(engine)
            await relay_bench.fill_outbox(sessionmaker, [relay_bench.envelope(0, 1)])
            broker: Any = RefusingBroker()
            with pytest.raises(relay_bench.BenchmarkError, match="stopped after 0 of 1"):
                await relay_bench.drain(sessionmaker, broker, 1, batch_size=10)
            assert await relay_bench.pending_rows(sessionmaker) == 1
    finally:
        await engine.dispose()
