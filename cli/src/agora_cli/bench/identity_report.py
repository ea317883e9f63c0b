"""The report of ``agora bench identity`` and ``basket``: medians over interleaved rounds, shares.

Each path (a request via the gateway or direct, or a hello-world) was timed once a round
(:mod:`agora_cli.bench.rounds`); the report gives the median over the rounds of its requests/s,
p50, p99 and server CPU per request, and of its **share**: its requests/s over the matching
hello-world's in the same round (via the gateway: the hello-world behind the same gateway
configuration; direct: the hello-world alone). A round's paths run seconds apart, so what else the
machine runs moves both sides alike. A :class:`Goal` names the path a benchmark's target is about,
its least share and, when it has one, its greatest p99.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agora_cli.bench import Report
from agora_cli.bench.catalog_report import Row, share
from agora_cli.ui import format_table


@dataclass(frozen=True)
class Goal:
    """A benchmark's target: ``key``'s share of its hello-world at least ``share``, and its p99
    at most ``p99_ms`` (None: no bound on the p99). ``label`` names the path for a person."""

    key: str
    label: str
    share: float
    p99_ms: float | None = None


KINDS = {"me": "GET /users/me", "users": "GET /users (admin, 20 a page)"}
HELLO_LABEL = "FastAPI hello-world"
LABELS = {**KINDS, "hello": HELLO_LABEL}
HELLO_ROLES = {"uvicorn": ("hello",), "gateway": ("hello", "hello_gateway")}
SERVICE_ROLES = {"direct": ("identity",), "gateway": ("identity", "gateway")}
MATCHING_HELLO = {"gateway": "hello.gateway", "direct": "hello.uvicorn"}
# Issue 13: /users/me via the gateway at >= 30% of the hello-world via the same gateway, p99 60 ms.
IDENTITY_GOAL = Goal("me.gateway", "GET /users/me via the gateway", 0.30, 60.0)
HEADER = ["path", "via", "req/s", "p50 ms", "p99 ms", "cpu µs/req", "errors", "of hello-world"]


def key(row: Row) -> str:
    """``kind.via``: the path's name in ``--json``."""
    return f"{row.kind}.{row.via}"


def _median(values: Sequence[float | None], digits: int = 1) -> float | None:
    present = [value for value in values if value is not None]
    return round(statistics.median(present), digits) if present else None


def round_shares(rows: Sequence[Row]) -> dict[str, float | None]:
    """Each read's requests/s over its matching hello-world's, in one round."""
    by_key = {key(row): row for row in rows}
    return {
        key(row): share(by_key.get(MATCHING_HELLO[row.via]), row)
        for row in rows
        if row.kind != "hello"
    }


def summarize(
    rounds: Sequence[Sequence[Row]],
    labels: Mapping[str, str] = LABELS,
    goal: Goal = IDENTITY_GOAL,
) -> dict[str, Any]:
    """The medians of every path over ``rounds``, the target and the verdict (JSON values).

    Args:
        rounds: Each round's rows.
        labels: What each kind is, for a person.
        goal: The target the verdict is about.
    """
    keys = list(dict.fromkeys(key(row) for rows in rounds for row in rows))
    shares = [round_shares(rows) for rows in rounds]
    results: dict[str, Any] = {}
    for name in keys:
        rows = [row for round_rows in rounds for row in round_rows if key(row) == name]
        first = rows[0]
        results[name] = {
            "label": labels.get(first.kind, first.kind),
            "via": first.via,
            "requests_per_second": _median([row.result.rate for row in rows]),
            "p50_ms": _median([row.result.p50_ms for row in rows], 2),
            "p99_ms": _median([row.result.p99_ms for row in rows], 2),
            "cpu_us_per_request": _median([row.cpu_us for row in rows]),
            "errors": sum(row.result.errors for row in rows),
            "share_of_hello_world": _median([s.get(name) for s in shares], 3),
            "rounds": [_round_json(row) for row in rows],
        }
    return {"results": results, **_verdict(results.get(goal.key), goal)}


def _round_json(row: Row) -> dict[str, Any]:
    """One round's result of a path, with each serving process's CPU per request (or None)."""
    by_process = row.cpu.per_request_us(row.result.requests) if row.cpu else None
    return row.result.as_json() | {
        "cpu_us_per_request_by_process": by_process
        and {role: round(us, 1) for role, us in by_process.items()}
    }


def _verdict(target: Mapping[str, Any] | None, goal: Goal) -> dict[str, Any]:
    met = None
    if target and target["share_of_hello_world"] is not None:
        fast = goal.p99_ms is None or target["p99_ms"] <= goal.p99_ms
        met = "met" if target["share_of_hello_world"] >= goal.share and fast else "missed"
    return {"target_share": goal.share, "target_p99_ms": goal.p99_ms, "target": met}


def _percent(fraction: object) -> str:
    return f"{fraction:.0%}" if isinstance(fraction, float) else "-"


def round_line(number: int, rounds: int, rows: Sequence[Row]) -> str:
    """One round's rates and shares, for the progress output."""
    shares = round_shares(rows)
    parts = [
        f"{key(row)} {row.result.rate:,.0f}/s p99 {row.result.p99_ms:.1f} ms"
        + (f" ({_percent(shares[key(row)])})" if key(row) in shares else "")
        for row in rows
    ]
    return f"round {number}/{rounds}: " + ", ".join(parts)


def _cells(result: Mapping[str, Any]) -> tuple[object, ...]:
    def shown(value: object, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    return (
        result["label"],
        result["via"],
        shown(result["requests_per_second"], ",.0f"),
        shown(result["p50_ms"], ".1f"),
        shown(result["p99_ms"], ".1f"),
        shown(result["cpu_us_per_request"], ",.0f"),
        result["errors"],
        _percent(result["share_of_hello_world"]),
    )


@dataclass(frozen=True)
class SharesReport(Report):
    """The medians of every path over the interleaved rounds (``rounds``: each round's rows),
    judged against ``goal``."""

    rounds: Sequence[Sequence[Row]] = ()
    goal: Goal = IDENTITY_GOAL

    def as_json(self) -> dict[str, Any]:
        """The report as plain JSON values; ``results`` by ``kind.via``."""
        return {
            "benchmark": self.benchmark,
            "title": self.title,
            "environment": self.environment,
            **self.facts,
        }

    def as_text(self) -> str:
        """Settings, the table of medians, and the target's verdict."""
        results: Mapping[str, Any] = self.facts.get("results", {})
        facts = {k: v for k, v in self.facts.items() if k != "results" and v is not None}
        settings = {**self.environment, **facts}
        width = max(len(name) for name in settings)
        lines = [self.title, ""]
        lines += [f"{name.ljust(width)}  {value}" for name, value in settings.items()]
        table = format_table(HEADER, [_cells(result) for result in results.values()])
        lines += ["", table, "", self.target_line(results)]
        return "\n".join(lines)

    def target_line(self, results: Mapping[str, Any]) -> str:
        """The goal's path against its target."""
        goal, target = self.goal, results.get(self.goal.key)
        if target is None:
            return "target: not measured"
        bounds = f">= {goal.share:.0%}" + (
            f", p99 <= {goal.p99_ms:g} ms" if goal.p99_ms is not None else ""
        )
        return (
            f"{goal.label} ÷ hello-world via the same gateway: "
            f"{_percent(target['share_of_hello_world'])}, p99 {target['p99_ms']} ms  "
            f"[target {bounds}: {self.facts.get('target') or '-'}]"
        )
