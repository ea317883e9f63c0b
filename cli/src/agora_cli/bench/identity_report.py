"""The report of ``agora bench identity``: medians over interleaved rounds, shares of hello-world.

Each path (a read via the gateway or direct, or a hello-world) was timed once a round; the report
gives the median over the rounds of its requests/s, p50, p99 and server CPU per request, and of
its **share**: its requests/s over the matching hello-world's in the same round (via the
gateway: the hello-world behind the same gateway configuration; direct: the hello-world alone).
A round's paths run seconds apart, so what else the machine runs moves both sides alike.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agora_cli.bench import Report
from agora_cli.bench.catalog_report import Row, share
from agora_cli.ui import format_table

KINDS = {"me": "GET /users/me", "users": "GET /users (admin, 20 a page)"}
LABELS = {**KINDS, "hello": "FastAPI hello-world"}
HELLO_ROLES = {"uvicorn": ("hello",), "gateway": ("hello", "hello_gateway")}
SERVICE_ROLES = {"direct": ("identity",), "gateway": ("identity", "gateway")}
MATCHING_HELLO = {"gateway": "hello.gateway", "direct": "hello.uvicorn"}
TARGET_KEY = "me.gateway"
TARGET_SHARE = 0.30
TARGET_P99_MS = 60.0
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


def summarize(rounds: Sequence[Sequence[Row]]) -> dict[str, Any]:
    """The medians of every path over ``rounds``, the target and the verdict (JSON values)."""
    keys = list(dict.fromkeys(key(row) for rows in rounds for row in rows))
    shares = [round_shares(rows) for rows in rounds]
    results: dict[str, Any] = {}
    for name in keys:
        rows = [row for round_rows in rounds for row in round_rows if key(row) == name]
        first = rows[0]
        results[name] = {
            "label": LABELS.get(first.kind, first.kind),
            "via": first.via,
            "requests_per_second": _median([row.result.rate for row in rows]),
            "p50_ms": _median([row.result.p50_ms for row in rows], 2),
            "p99_ms": _median([row.result.p99_ms for row in rows], 2),
            "cpu_us_per_request": _median([row.cpu_us for row in rows]),
            "errors": sum(row.result.errors for row in rows),
            "share_of_hello_world": _median([s.get(name) for s in shares], 3),
            "rounds": [row.result.as_json() for row in rows],
        }
    return {"results": results, **_verdict(results.get(TARGET_KEY))}


def _verdict(target: Mapping[str, Any] | None) -> dict[str, Any]:
    met = None
    if target and target["share_of_hello_world"] is not None:
        ok = target["share_of_hello_world"] >= TARGET_SHARE and target["p99_ms"] <= TARGET_P99_MS
        met = "met" if ok else "missed"
    return {"target_share": TARGET_SHARE, "target_p99_ms": TARGET_P99_MS, "target": met}


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
class IdentityReport(Report):
    """The medians of every path over the interleaved rounds (``rounds``: each round's rows)."""

    rounds: Sequence[Sequence[Row]] = ()

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
        settings = {**self.environment, **{k: v for k, v in self.facts.items() if k != "results"}}
        width = max(len(name) for name in settings)
        lines = [self.title, ""]
        lines += [f"{name.ljust(width)}  {value}" for name, value in settings.items()]
        table = format_table(HEADER, [_cells(result) for result in results.values()])
        lines += ["", table, "", self.target_line(results)]
        return "\n".join(lines)

    def target_line(self, results: Mapping[str, Any]) -> str:
        """``/users/me`` via the gateway against issue 13's target."""
        target = results.get(TARGET_KEY)
        if target is None:
            return "target: not measured"
        return (
            f"GET /users/me via the gateway ÷ hello-world via the same gateway: "
            f"{_percent(target['share_of_hello_world'])}, p99 {target['p99_ms']} ms  "
            f"[target >= {TARGET_SHARE:.0%}, p99 <= {TARGET_P99_MS:g} ms: "
            f"{self.facts.get('target') or '-'}]"
        )
