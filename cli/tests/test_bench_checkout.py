"""``agora bench checkout``: the statistics from timelines, the counter deltas, the set-up and
placing against a fake gateway, the report, and a real run on a private stack.

Like every benchmark test these check what was measured (every order read back, the counts and
deltas computed from the right readings, the verdict), never how fast.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from agora_cli.bench import DEFAULT_REQUESTS, options_from
from agora_cli.bench import checkout as bench
from agora_cli.bench import checkout_costs as costs
from agora_cli.bench.checkout_report import Placed, Reading, Run, checkout_report, cost_facts
from agora_cli.bench.checkout_stats import (
    OrderTimes,
    cpu_per_order,
    deltas,
    net_per_order,
    per_order,
    saga_summary,
    verdict,
)
from agora_cli.bench.cpu import CpuUsage
from agora_cli.bench.stacks import BenchmarkError, Target
from agora_cli.main import build_parser, main

T0 = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def at(ms: float) -> str:
    return (T0 + dt.timedelta(milliseconds=ms)).isoformat()


def order(placed_ms: float, paid_ms: float | None, status: str = "paid") -> dict[str, Any]:
    """An order as ``GET /api/v1/orders/{id}`` answers it: reserved 100 ms after placing."""
    timeline = [
        {"status": "pending", "at": at(placed_ms), "reason": None},
        {"status": "stock_reserved", "at": at(placed_ms + 100), "reason": None},
        {"status": "awaiting_payment", "at": at(placed_ms + 100), "reason": None},
    ]
    if paid_ms is not None:
        timeline.append({"status": "paid", "at": at(paid_ms), "reason": None})
    reason = "payment_failed" if status == "cancelled" else None
    return {
        "status": status,
        "placed_at": at(placed_ms),
        "timeline": timeline,
        "cancel_reason": reason,
    }


def test_an_orders_times_come_from_its_timeline() -> None:
    times = OrderTimes.of(order(0, 250))
    assert times.status == "paid"
    assert times.seconds_to_paid == pytest.approx(0.25)
    assert [status for status, _ in times.steps][-1] == "paid"
    assert OrderTimes.of(order(0, None, "awaiting_payment")).seconds_to_paid is None


def test_the_rate_to_paid_runs_from_the_first_placed_to_the_last_paid() -> None:
    orders = [order(i * 10, i * 10 + 200 + i) for i in range(100)]  # 200..299 ms each
    orders += [order(5, None, "cancelled"), order(6, None, "awaiting_payment")]
    summary = saga_summary([OrderTimes.of(o) for o in orders])
    assert (summary["orders"], summary["paid"], summary["cancelled"]) == (102, 100, 1)
    assert summary["unfinished"] == 1
    assert summary["cancel_reasons"] == ["payment_failed"]
    assert summary["window_seconds"] == 1.289  # first placed at 0, last paid at 990 + 299 ms
    assert summary["paid_per_second"] == pytest.approx(100 / 1.289, rel=0.01)
    assert summary["place_to_paid_ms"] == {"p50": 249.0, "p99": 298.0, "max": 299.0}
    steps = summary["step_median_ms"]
    assert list(steps) == [
        "pending->stock_reserved",
        "stock_reserved->awaiting_payment",
        "awaiting_payment->paid",
    ]
    assert (steps["pending->stock_reserved"], steps["stock_reserved->awaiting_payment"]) == (
        100.0,
        0.0,
    )
    assert summary["paid_share"] == pytest.approx(100 / 102, abs=1e-4)


def test_no_orders_make_an_empty_summary_and_a_missed_target() -> None:
    summary = saga_summary([])
    assert (summary["paid_per_second"], summary["window_seconds"], summary["paid_share"]) == (
        0.0,
        0.0,
        0.0,
    )
    assert verdict(summary, 100, 1000) == "missed"


def test_the_target_needs_every_order_paid_fast_enough_within_the_p99() -> None:
    fast = saga_summary([OrderTimes.of(order(i, i + 300)) for i in range(200)])
    assert fast["paid_per_second"] >= 100
    assert verdict(fast, 100, 1000) == "met"
    assert verdict(fast, 100, 250) == "missed"  # p99 300 ms
    assert verdict(fast, 10_000, 1000) == "missed"
    one_cancelled = [OrderTimes.of(order(i, i + 300)) for i in range(199)]
    one_cancelled.append(OrderTimes.of(order(0, None, "cancelled")))
    assert verdict(saga_summary(one_cancelled), 100, 1000) == "missed"


def test_counters_grow_by_their_deltas_per_order() -> None:
    before = {"AGORA_ORDER": 10, "AGORA_STOCK": 4, "AGORA_USER": 1}
    after = {"AGORA_ORDER": 40, "AGORA_STOCK": 14, "AGORA_USER": 1, "AGORA_PAYMENT": 10}
    assert deltas(before, after) == {"AGORA_ORDER": 30, "AGORA_PAYMENT": 10, "AGORA_STOCK": 10}
    assert per_order(50, 10) == 5.0
    assert per_order(50, 0) == 0.0
    assert net_per_order(200, 5.0, 10.0, 10) == 15.0  # 200 less 50 in the background
    assert net_per_order(10, 5.0, 10.0, 10) == 0.0
    by_process = cpu_per_order({"catalog": 0.5, "ordering": 1.0}, 100)
    assert by_process == {"ordering": 10_000, "catalog": 5_000}
    assert list(by_process) == ["ordering", "catalog"]


def test_the_streams_are_read_from_the_nats_monitor() -> None:
    def consumer(pending: int, ack_pending: int) -> dict[str, int]:
        return {"num_pending": pending, "num_ack_pending": ack_pending}

    jsz = {
        "account_details": [
            {
                "stream_detail": [
                    {
                        "name": "AGORA_ORDER",
                        "state": {"messages": 3, "last_seq": 30},
                        "consumer_detail": [consumer(1, 2), consumer(0, 0)],
                    },
                    {"name": "AGORA_STOCK", "state": {"messages": 0, "last_seq": 7}},
                ]
            }
        ]
    }
    streams = costs.streams_of(jsz)
    assert streams.last_seq == {"AGORA_ORDER": 30, "AGORA_STOCK": 7}
    assert (streams.messages, streams.backlog) == (37, 3)
    assert costs.streams_of({}).messages == 0


def run_of(before_commits: int | None, after_commits: int | None) -> Run:
    before = Reading(100.0, before_commits, costs.Streams({"AGORA_ORDER": 5}, 0))
    after = Reading(110.0, after_commits, costs.Streams({"AGORA_ORDER": 35, "AGORA_STOCK": 10}, 0))
    placed = Placed(["a"] * 10, [0.1] * 10, ["500 boom"], 2.0)
    background = {"commits_per_second": 2.0, "messages_per_second": 0.0}
    return Run(11, 4, placed, 0, before, after, background)


def test_the_costs_are_the_runs_deltas_less_the_background() -> None:
    facts = cost_facts(run_of(1000, 1200), orders=10)
    assert (facts["db_commits_per_order"], facts["db_commits_per_order_net"]) == (20.0, 18.0)
    assert facts["broker_messages_per_order"] == 4.0
    assert facts["broker_messages_by_stream"] == {"AGORA_ORDER": 30, "AGORA_STOCK": 10}
    assert facts["counted_over_seconds"] == 10.0
    unknown = cost_facts(run_of(None, None), orders=10)
    assert unknown["db_commits_per_order"] is None


def test_the_report_gives_both_rates_the_costs_and_the_verdict() -> None:
    target = Target("http://g:1", "http://g:1", None, "private stack")
    access = costs.StackAccess("http://sim", "http://mon", "postgresql://postgres:pw@h:5/postgres")
    orders = [order(i * 10, i * 10 + 400) for i in range(10)]
    usage = CpuUsage({"ordering": 0.2, "postgres": 0.1})
    report = checkout_report(target, access, run_of(0, 150), orders, usage, 5.0)
    output = report.as_json()
    assert set(output["results"]) == {"placed", "paid"}
    assert output["results"]["paid"]["events"] == 10
    assert output["results"]["placed"]["events_per_second"] == 5.0
    assert (output["refused"], output["refusals"]) == (1, ["500 boom"])
    assert output["cpu_us_per_order_by_process"] == {"ordering": 20_000, "postgres": 10_000}
    assert output["cpu_us_per_order"] == 30_000.0
    assert output["target"] == "missed"
    assert output["environment"]["database"] == "postgresql://h:5/postgres"
    assert "wrk cannot follow a saga" in output["environment"]["generator"]
    assert "placed -> PAID" in report.as_text()
    assert (
        checkout_report(target, access, run_of(0, 1), orders, None, 5.0).as_json()[
            "cpu_us_per_order"
        ]
        is None
    )


class FakeStack:
    """The gateway and the simulator of a stack, as far as the checkout benchmark uses them."""

    def __init__(self, categories: int = 1, refuse_every: int = 0) -> None:
        self.categories = [{"id": "c-1"}] * categories
        self.refuse_every = refuse_every
        self.calls: list[str] = []
        self.keys: list[str] = []
        self.unfinished = [3, 1, 0]

    def answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        if path == "/api/v1/categories":
            return self.category(request)
        if path == "/api/v1/products":
            body = json.loads(request.content)
            return httpx.Response(201, json={"id": f"p-{body['sku']}-{body['category_id']}"})
        if path == "/api/v1/orders":
            return self.place(request)
        if path == "/api/v1/admin/orders":
            assert request.url.params["customer"] == "buyer-1"
            left = self.unfinished[0] if request.url.params["status"] == "pending" else 0
            return httpx.Response(200, json={"total": left})
        if path == "/admin/faults":
            assert json.loads(request.content) == bench.NO_FAULTS
            return httpx.Response(200, json={})
        assert path == "/v1/tokens", path
        return httpx.Response(200, json={"id": f"tok_{len(self.calls)}"})

    def category(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json={"id": "c-new"})
        return httpx.Response(200, json=self.categories)

    def place(self, request: httpx.Request) -> httpx.Response:
        self.keys.append(request.headers["Idempotency-Key"])
        if self.refuse_every and len(self.keys) % self.refuse_every == 0:
            return httpx.Response(409, json={"title": "Conflict"})
        return httpx.Response(201, json={"id": f"o-{len(self.keys)}"})


@asynccontextmanager
async def client_of(fake: FakeStack) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.MockTransport(fake.answer)
    async with httpx.AsyncClient(transport=transport, base_url="http://g") as client:
        yield client


async def test_products_go_in_the_first_category_or_a_new_one() -> None:
    async with client_of(FakeStack()) as client:
        ids = await bench.create_products(client, {}, 3, 100)
    assert len(ids) == 3
    assert all(i.endswith("-c-1") for i in ids)
    bare = FakeStack(categories=0)
    async with client_of(bare) as client:
        ids = await bench.create_products(client, {}, 2, 100)
    assert all(i.endswith("-c-new") for i in ids)
    assert "POST /api/v1/categories" in bare.calls


async def test_tokens_are_made_after_the_faults_are_set_to_zero() -> None:
    fake = FakeStack()
    async with client_of(fake) as client:
        tokens = await bench.card_tokens(client, 5, 2)
    assert len(set(tokens)) == 5
    assert fake.calls[0] == "PUT /admin/faults"


async def test_every_order_is_posted_once_with_its_own_idempotency_key() -> None:
    fake = FakeStack(refuse_every=4)
    bodies = [bench.order_body(f"p-{i}", f"tok_{i}") for i in range(12)]
    async with client_of(fake) as client:
        placed = await bench.place_orders(client, {"Authorization": "Bearer c"}, bodies, 3)
    assert len(fake.keys) == len(set(fake.keys)) == 12
    assert (len(placed.order_ids), len(placed.errors), len(placed.latencies)) == (9, 3, 12)
    assert placed.errors[0].startswith("409")
    assert placed.seconds > 0


async def test_the_wait_ends_when_nothing_is_unfinished_or_the_count_stalls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bench, "POLL_SECONDS", 0.0)
    fake = FakeStack()
    async with client_of(fake) as client:

        async def count() -> int:
            left = await bench.unfinished(client, {}, "buyer-1")
            fake.unfinished = fake.unfinished[1:] or [0]
            return left

        assert await bench.wait_for(count, "orders unfinished") == 0
    monkeypatch.setattr(bench, "STALL_SECONDS", 0.01)

    async def stuck() -> int:
        return 7

    assert await bench.wait_for(stuck, "orders unfinished") == 7


async def test_a_refused_set_up_says_what_answered() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="down")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse), base_url="http://g") as c:
        with pytest.raises(BenchmarkError, match="GET /api/v1/categories answered 503: down"):
            await bench.create_products(c, {}, 1, 1)


def test_a_running_stack_without_a_saved_configuration_is_read_from_the_port_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGORA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AGORA_PAYSIM_PORT", "28090")
    target = Target("http://127.0.0.1:28080", "http://127.0.0.1:28080", None, "external")
    access = costs.stack_access(target, None)
    assert access.paysim_url == "http://127.0.0.1:28090"
    assert (access.database_url, dict(access.pids)) == (None, {})
    private = Target("http://127.0.0.1:28080", "", None, "private stack", data_dir=tmp_path)
    with pytest.raises(BenchmarkError, match="no saved stack configuration"):
        costs.stack_access(private, None)


def test_a_process_is_read_with_its_children() -> None:
    mine = costs.tree_cpu_seconds(os.getpid())
    assert mine is not None
    assert mine > 0
    assert costs.tree_cpu_seconds(2**22 + 12345) is None


def test_the_checkout_benchmark_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list"]) == 0
    assert "checkout" in capsys.readouterr().out


@pytest.mark.system
def test_bench_checkout_carries_every_order_to_paid_on_a_private_stack(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "checkout", "--requests", "12", "--concurrency", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["checkout"]
    assert (report["orders"], report["paid"], report["refused"]) == (12, 12, 0)
    assert report["paid_share"] == 1.0
    assert report["backlog_at_end"] == 0
    assert report["results"]["paid"]["events_per_second"] > 0
    assert report["place_to_paid_ms"]["p99"] >= report["place_to_paid_ms"]["p50"] > 0
    assert report["db_commits_per_order"] > 0
    assert report["broker_messages_by_stream"]["AGORA_ORDER"] >= 3 * 12  # placed, awaiting, paid
    assert {"ordering", "catalog", "payment", "postgres", "gateway"} <= set(
        report["cpu_us_per_order_by_process"]
    )
    assert report["target"] in {"met", "missed"}


def test_without_requests_checkout_places_its_own_default_and_http_benches_theirs() -> None:
    given = options_from(build_parser().parse_args(["bench", "checkout", "--requests", "12"]))
    default = options_from(build_parser().parse_args(["bench", "checkout"]))

    assert given.requests_or(bench.DEFAULT_ORDERS) == 12
    assert default.requests_or(bench.DEFAULT_ORDERS) == bench.DEFAULT_ORDERS == 400
    assert default.requests_or(DEFAULT_REQUESTS) == DEFAULT_REQUESTS == 2000
