"""The report of ``agora bench checkout``: the saga's rate and latency, and the cost per order.

Built from what the run collected (:class:`Run`: the placements, the counters before and after,
the idle stack's background rates), the orders read back and the processes' CPU time; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agora_cli.bench import Measurement, Report
from agora_cli.bench.checkout_costs import StackAccess, Streams
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
from agora_cli.bench.http_load import percentile
from agora_cli.bench.servers import machine_info, without_credentials
from agora_cli.bench.stacks import Target

TARGET_PER_SECOND = 100.0
TARGET_P99_MS = 1000.0
GENERATOR = "python (httpx.AsyncClient; wrk cannot follow a saga)"
ERRORS_KEPT = 3


@dataclass
class Placed:
    """What the timed ``POST``s got: the orders' ids, each latency, the refusals."""

    order_ids: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def latency_ms(self) -> dict[str, float]:
        """The client's ``POST`` latency percentiles (p50, p99), in milliseconds."""
        ordered = sorted(self.latencies)
        return {
            "p50": round(percentile(ordered, 0.5) * 1000, 1),
            "p99": round(percentile(ordered, 0.99) * 1000, 1),
        }


@dataclass(frozen=True)
class Reading:
    """The stack's counters at one moment (monotonic ``at``): commits (None when unknown) and
    the streams."""

    at: float
    commits: int | None
    streams: Streams


@dataclass(frozen=True)
class Run:
    """What one run collected besides the orders.

    Attributes:
        requested: Orders asked for (``--requests``).
        concurrency: Workers placing them.
        placed: The placements.
        backlog: Messages still pending at the consumers when the run stopped waiting.
        before: The counters just before the first ``POST``.
        after: The counters once the saga was done and the statistics had settled.
        background: The idle stack's ``commits_per_second`` and ``messages_per_second``.
    """

    requested: int
    concurrency: int
    placed: Placed
    backlog: int
    before: Reading
    after: Reading
    background: Mapping[str, float | None]


def cost_facts(run: Run, orders: int) -> dict[str, Any]:
    """Database commits and broker messages over the run, per order, raw and less the idle
    stack's background rate over the same time."""
    seconds = run.after.at - run.before.at
    messages = deltas(run.before.streams.last_seq, run.after.streams.last_seq)
    facts: dict[str, Any] = {
        "db_commits_per_order": None,
        "db_commits_per_order_net": None,
        "background_commits_per_second": run.background.get("commits_per_second"),
    }
    background = run.background.get("commits_per_second")
    if run.before.commits is not None and run.after.commits is not None:
        commits = run.after.commits - run.before.commits
        facts["db_commits_per_order"] = per_order(commits, orders)
        facts["db_commits_per_order_net"] = net_per_order(
            commits, background or 0.0, seconds, orders
        )
    facts["broker_messages_per_order"] = per_order(sum(messages.values()), orders)
    facts["broker_messages_by_stream"] = messages
    facts["background_messages_per_second"] = run.background.get("messages_per_second")
    facts["counted_over_seconds"] = round(seconds, 1)
    return facts


def cpu_facts(usage: CpuUsage | None, orders: int, seconds: float) -> dict[str, Any]:
    """CPU per order by process (None when the processes are unknown) and how busy the
    machine's CPUs were with them during the timed part."""
    import os

    if usage is None:
        return {"cpu_us_per_order": None, "cpu_us_per_order_by_process": None}
    return {
        "cpu_us_per_order": per_order(usage.total * 1e6, orders),
        "cpu_us_per_order_by_process": cpu_per_order(usage.seconds, orders),
        "cpu_busy_share": round(usage.total / max(seconds, 1e-9) / (os.cpu_count() or 1), 3),
        "cpu_window_seconds": round(seconds, 1),
    }


def environment(target: Target, access: StackAccess, run: Run) -> dict[str, str]:
    """The settings lines: machine, stack, where the counters were read, the generator."""
    database = access.database_url
    return {
        **machine_info(),
        "stack": target.origin,
        "gateway": without_credentials(target.gateway_url),
        "simulator": access.paysim_url,
        "nats_monitor": access.monitor_url,
        "database": without_credentials(database) if database else "unknown: no commit counts",
        "generator": GENERATOR,
        "client": f"{run.concurrency} workers, one POST each at a time, a new Idempotency-Key each",
    }


def checkout_report(
    target: Target,
    access: StackAccess,
    run: Run,
    orders: Sequence[Mapping[str, Any]],
    usage: CpuUsage | None,
    cpu_seconds: float,
) -> Report:
    """The report of one run: rates, the saga's outcome and latency, the costs, the verdict."""
    summary = saga_summary([OrderTimes.of(order) for order in orders])
    count = summary["orders"]
    facts: dict[str, Any] = {
        "generator": GENERATOR,
        "concurrency": run.concurrency,
        "requested": run.requested,
        "refused": len(run.placed.errors),
        "refusals": run.placed.errors[:ERRORS_KEPT],
        **summary,
        "post_latency_ms": run.placed.latency_ms(),
        "backlog_at_end": run.backlog,
        **cost_facts(run, count),
        **cpu_facts(usage, count, cpu_seconds),
        "target_paid_per_second": TARGET_PER_SECOND,
        "target_p99_ms": TARGET_P99_MS,
        "target": verdict(summary, TARGET_PER_SECOND, TARGET_P99_MS),
    }
    measured = [
        Measurement(
            "placed",
            "POST /api/v1/orders answered 201 (client's clock)",
            len(run.placed.order_ids),
            (run.placed.seconds,),
        ),
        Measurement(
            "paid", "placed -> PAID (servers' times)", summary["paid"], (summary["window_seconds"],)
        ),
    ]
    title = (
        f"Checkout: {run.requested} orders placed through the gateway by {run.concurrency} "
        "workers, carried to PAID by the saga (simulator at zero latency)"
    )
    return Report("checkout", title, environment(target, access, run), measured, facts)
