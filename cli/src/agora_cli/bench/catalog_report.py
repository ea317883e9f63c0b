"""The report of ``agora bench catalog``: a row per timed scenario, the ratios to the baseline.

Each row gives the client's view (requests/s, p50 and p99 latency, errors) and the servers' own
cost: the CPU time per request of the processes that served it (:mod:`agora_cli.bench.cpu`), the
catalog service's for a direct read, the catalog's and the gateway's for a read through the
gateway, uvicorn's for the hello-world. The summary sets cached product-by-id reads against the
hello-world twice: by throughput (hello-world requests/s over the catalog's, the target being 2
through the gateway) and by server CPU per request (the catalog's over the hello-world's), each the
median over interleaved rounds of the baselines and the reads (:func:`median_summary`) when rounds
were run. A second baseline, the hello-world behind a gateway, leaves the gateway's own cost out.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agora_cli.bench import Report
from agora_cli.bench import cpu as server_cpu
from agora_cli.bench.cpu import MICROSECONDS, CpuUsage
from agora_cli.bench.http_load import LoadResult
from agora_cli.ui import format_table

KINDS = {
    "product": "product by id",
    "list": "list, page 1",
    "filtered": "list, filtered",
    "search": "search",
}
UNCACHED = "search_uncached"
LABELS = {**KINDS, UNCACHED: "search, uncached", "hello": "FastAPI hello-world"}
VIA_ROLES = {"uvicorn": ("hello",), "direct": ("catalog",), "gateway": ("catalog", "gateway")}
HELLO_VIA_ROLES = {"uvicorn": ("hello",), "gateway": ("hello", "hello_gateway")}
HELLO = "hello.uvicorn.-"
HELLO_VIA_GATEWAY = "hello.gateway.-"
PRODUCT_VIA_GATEWAY = "product.gateway.warm"
PRODUCT_DIRECT = "product.direct.warm"
TARGET_RATIO = 2.0
# Issue 13: a cached read via the gateway serves >= 70% of what the hello-world behind the same
# gateway serves, with p99 <= 25 ms at 32 in flight.
TARGET_SHARE = 0.70
TARGET_P99_MS = 25.0
MIN_RATE = 1e-9
THROUGHPUT_VIA_GATEWAY = "hello_world_vs_cached_product_via_gateway"
THROUGHPUT_DIRECT = "hello_world_vs_cached_product_direct"
THROUGHPUT_BOTH_VIA_GATEWAY = "hello_world_via_gateway_vs_cached_product_via_gateway"
CPU_VIA_GATEWAY = "cpu_cached_product_via_gateway_vs_hello_world"
CPU_DIRECT = "cpu_cached_product_direct_vs_hello_world"
SHARE_VIA_GATEWAY = "cached_product_via_gateway_share_of_hello_world_via_gateway"
P99_VIA_GATEWAY = "cached_product_via_gateway_p99_ms"
RATIO_KEYS = (
    THROUGHPUT_VIA_GATEWAY,
    THROUGHPUT_DIRECT,
    THROUGHPUT_BOTH_VIA_GATEWAY,
    CPU_VIA_GATEWAY,
    CPU_DIRECT,
    SHARE_VIA_GATEWAY,
    P99_VIA_GATEWAY,
)
ROUNDS = "rounds"
VERDICT_KEYS = ("target_ratio", "within_target", "target_share", "target_p99_ms", "share_target")
SUMMARY_KEYS = frozenset({*RATIO_KEYS, *VERDICT_KEYS, ROUNDS})
HEADER = [
    "scenario",
    "via",
    "cache",
    "requests",
    "req/s",
    "p50 ms",
    "p99 ms",
    "cpu µs/req",
    "errors",
]


@dataclass(frozen=True)
class Row:
    """One timed scenario: what was read, how (gateway, direct, uvicorn), the cache, the result.

    ``cpu`` is the CPU time of the processes that served it (:func:`serving_roles`), None when it
    was not measured.
    """

    kind: str
    via: str
    cache: str
    result: LoadResult
    cpu: CpuUsage | None = None

    @property
    def key(self) -> str:
        """``kind.via.cache``, the scenario's name in ``--json``."""
        return f"{self.kind}.{self.via}.{self.cache}"

    @property
    def label(self) -> str:
        """What was read, for a person."""
        return LABELS.get(self.kind, self.kind)

    @property
    def cpu_us(self) -> float | None:
        """Microseconds of server CPU per request, every serving process together (or None)."""
        if self.cpu is None:
            return None
        return self.cpu.total * MICROSECONDS / max(self.result.requests, 1)

    def as_json(self) -> dict[str, Any]:
        """The scenario as plain JSON values (CPU None when not measured)."""
        cpu = self.cpu_us
        by_process = self.cpu.per_request_us(self.result.requests) if self.cpu else None
        return (
            {"label": self.label, "via": self.via, "cache": self.cache}
            | self.result.as_json()
            | {
                "cpu_us_per_request": None if cpu is None else round(cpu, 1),
                "cpu_us_per_request_by_process": by_process
                and {role: round(us, 1) for role, us in by_process.items()},
            }
        )

    def line(self) -> str:
        """The scenario in one line, for the progress output."""
        result, cpu = self.result, self.cpu_us
        return (
            f"{self.label}, {self.via}, {self.cache}: {result.rate:,.0f} requests/s, "
            f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
            + ("" if cpu is None else f", server CPU {cpu:,.0f} µs a request")
            + f" ({result.requests} requests, {result.errors} errors)"
        )

    def cells(self) -> tuple[object, ...]:
        """The scenario's line of the text table."""
        cpu = self.cpu_us
        return (
            self.label,
            self.via,
            self.cache,
            self.result.requests,
            f"{self.result.rate:,.0f}",
            f"{self.result.p50_ms:.1f}",
            f"{self.result.p99_ms:.1f}",
            "-" if cpu is None else f"{cpu:,.0f}",
            self.result.errors,
        )


def cpu_source(pids: Mapping[str, int]) -> str:
    """Whose CPU time the report reads, given the stack's serving processes by role (if known)."""
    if not server_cpu.available():
        return "not measured: this platform does not report it"
    if not pids:
        return "the hello-world's only: the catalog's and the gateway's processes are unknown"
    processes = ", ".join(f"{role} (pid {pid})" for role, pid in sorted(pids.items()))
    return f"user + system CPU time (psutil): {processes}, the hello-world's uvicorn and gateway"


def serving_roles(kind: str, via: str) -> tuple[str, ...]:
    """The processes whose CPU time a scenario costs: the hello-world's or the catalog's, and the
    gateway's in front of either when read through one."""
    return (HELLO_VIA_ROLES if kind == "hello" else VIA_ROLES).get(via, ())


def _verdict(ratios: Mapping[str, Any]) -> dict[str, Any]:
    """The targets, and whether the ratios are within them: the catalog issue's (hello-world ÷
    cached read via the gateway <= 2) and issue 13's (share >= 70%, p99 <= 25 ms)."""
    throughput, share, p99 = (
        ratios.get(key) for key in (THROUGHPUT_VIA_GATEWAY, SHARE_VIA_GATEWAY, P99_VIA_GATEWAY)
    )
    return {
        "target_ratio": TARGET_RATIO,
        "within_target": throughput is not None and throughput <= TARGET_RATIO,
        "target_share": TARGET_SHARE,
        "target_p99_ms": TARGET_P99_MS,
        "share_target": (
            None
            if share is None or p99 is None
            else ("met" if share >= TARGET_SHARE and p99 <= TARGET_P99_MS else "missed")
        ),
    }


def share(hello: Row | None, read: Row | None) -> float | None:
    """The read's requests/s as a fraction of the hello-world's (None when either is missing)."""
    if hello is None or read is None:
        return None
    return round(read.result.rate / max(hello.result.rate, MIN_RATE), 3)


def _rate_ratio(hello: Row | None, read: Row | None) -> float | None:
    if hello is None or read is None:
        return None
    return round(hello.result.rate / max(read.result.rate, MIN_RATE), 2)


def _cpu_ratio(read: Row | None, hello: Row | None) -> float | None:
    read_us = read.cpu_us if read else None
    hello_us = hello.cpu_us if hello else None
    if read_us is None or not hello_us:
        return None
    return round(read_us / hello_us, 2)


def summary(rows: Sequence[Row]) -> dict[str, Any]:
    """The ratios of cached product-by-id reads (warm) to the hello-world, None when not measured.

    Throughput: hello-world requests/s over the read's, through the gateway (against
    :data:`TARGET_RATIO`) and direct. CPU: the read's server CPU per request over the
    hello-world's, the catalog's and the gateway's together through the gateway.
    """
    by_key = {row.key: row for row in rows}
    hello, hello_via_gateway, via_gateway, direct = (
        by_key.get(key) for key in (HELLO, HELLO_VIA_GATEWAY, PRODUCT_VIA_GATEWAY, PRODUCT_DIRECT)
    )
    ratios = {
        THROUGHPUT_VIA_GATEWAY: _rate_ratio(hello, via_gateway),
        THROUGHPUT_DIRECT: _rate_ratio(hello, direct),
        THROUGHPUT_BOTH_VIA_GATEWAY: _rate_ratio(hello_via_gateway, via_gateway),
        CPU_VIA_GATEWAY: _cpu_ratio(via_gateway, hello),
        CPU_DIRECT: _cpu_ratio(direct, hello),
        SHARE_VIA_GATEWAY: share(hello_via_gateway, via_gateway),
        P99_VIA_GATEWAY: None if via_gateway is None else round(via_gateway.result.p99_ms, 2),
    }
    return ratios | _verdict(ratios)


def median_summary(rounds: Sequence[Sequence[Row]]) -> dict[str, Any]:
    """:func:`summary` of each round, each ratio's median over them, and the rounds' own ratios.

    A round measures the hello-world and the cached reads right after one another, so a change in
    what else the machine runs moves both sides of its ratios alike; the median drops the round
    that was hit anyway.
    """
    per_round = [summary(rows) for rows in rounds]
    medians: dict[str, Any] = {}
    for key in RATIO_KEYS:
        values = [ratios[key] for ratios in per_round if ratios[key] is not None]
        medians[key] = round(statistics.median(values), 2) if values else None
    rounds_ratios = [{key: ratios[key] for key in RATIO_KEYS} for ratios in per_round]
    return medians | _verdict(medians) | {ROUNDS: rounds_ratios}


def round_line(number: int, rounds: int, rows: Sequence[Row]) -> str:
    """The throughput ratios of one round of :func:`median_summary`, for the progress output."""
    ratios = summary(rows)
    return (
        f"target round {number}/{rounds}: hello-world ÷ cached product by id, "
        f"{ratios[THROUGHPUT_VIA_GATEWAY]} via the gateway, {ratios[THROUGHPUT_DIRECT]} direct, "
        f"{ratios[THROUGHPUT_BOTH_VIA_GATEWAY]} both via the gateway; cached read via the "
        f"gateway at {_percent(ratios[SHARE_VIA_GATEWAY])} of the hello-world via the gateway, "
        f"p99 {ratios[P99_VIA_GATEWAY]} ms"
    )


def _percent(fraction: object) -> str:
    return f"{fraction:.0%}" if isinstance(fraction, float) else "-"


def share_line(facts: Mapping[str, Any]) -> str:
    """Issue 13's target for the cached read, and the run's verdict."""
    rounds = facts.get(ROUNDS) or []
    shares = ", ".join(_percent(ratios.get(SHARE_VIA_GATEWAY)) for ratios in rounds)
    p99s = ", ".join(str(ratios.get(P99_VIA_GATEWAY)) for ratios in rounds)
    of_rounds = f" (median of {len(rounds)} rounds: {shares}; p99 {p99s})" if rounds else ""
    return (
        f"cached product by id via the gateway ÷ hello-world via the same gateway: "
        f"{_percent(facts.get(SHARE_VIA_GATEWAY))}, p99 {facts.get(P99_VIA_GATEWAY)} ms"
        f"{of_rounds}  [target >= {TARGET_SHARE:.0%}, p99 <= {TARGET_P99_MS:g} ms: "
        f"{facts.get('share_target') or '-'}]"
    )


def _ratio_text(ratio: object, numerator: str, denominator: str) -> str:
    if not isinstance(ratio, float):
        return "-"
    return f"{ratio:.2f}  ({numerator} ÷ {denominator})"


def _median_text(ratio: object, key: str, rounds: Sequence[dict[str, Any]]) -> str:
    if not isinstance(ratio, float):
        return "-"
    values = ", ".join("-" if ratios[key] is None else f"{ratios[key]:.2f}" for ratios in rounds)
    return f"{ratio:.2f}  (median of {len(rounds)} interleaved rounds: {values})"


def summary_lines(rows: Sequence[Row], facts: dict[str, Any]) -> list[str]:
    """The :func:`summary` ratios in ``facts`` for a person, with what they divide."""
    by_key = {row.key: row for row in rows}

    def rate(key: str) -> str:
        row = by_key.get(key)
        return f"{row.result.rate:,.0f} req/s" if row else "-"

    def cpu(key: str) -> str:
        row = by_key.get(key)
        us = row.cpu_us if row else None
        return "-" if us is None else f"{us:,.0f} µs"

    ratios = [
        ("via the gateway", THROUGHPUT_VIA_GATEWAY, rate(HELLO), rate(PRODUCT_VIA_GATEWAY)),
        ("direct", THROUGHPUT_DIRECT, rate(HELLO), rate(PRODUCT_DIRECT)),
        (
            "both via the gateway",
            THROUGHPUT_BOTH_VIA_GATEWAY,
            rate(HELLO_VIA_GATEWAY),
            rate(PRODUCT_VIA_GATEWAY),
        ),
        (
            "via the gateway (catalog + gateway)",
            CPU_VIA_GATEWAY,
            cpu(PRODUCT_VIA_GATEWAY),
            cpu(HELLO),
        ),
        ("direct (catalog)", CPU_DIRECT, cpu(PRODUCT_DIRECT), cpu(HELLO)),
    ]
    width = max(len(label) for label, *_ in ratios)
    rounds = facts.get(ROUNDS)
    lines = [
        f"  {label.ljust(width)}  "
        + (
            _median_text(facts.get(key), key, rounds)
            if rounds
            else _ratio_text(facts.get(key), numerator, denominator)
        )
        for label, key, numerator, denominator in ratios
    ]
    if isinstance(facts.get(THROUGHPUT_VIA_GATEWAY), float):
        lines[0] += f"  [target {TARGET_RATIO:g}: {_within(facts)}]"
    return [
        "throughput, hello-world req/s ÷ cached product by id req/s:",
        *lines[:3],
        "server CPU per request, cached product by id ÷ hello-world:",
        *lines[3:],
        share_line(facts),
    ]


def _within(facts: Mapping[str, Any]) -> str:
    return "within it" if facts.get("within_target") else "missed"


def _printable(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key} {item}" for key, item in value.items())
    return str(value)


@dataclass(frozen=True)
class CatalogReport(Report):
    """The report with one row per scenario: requests/s, latencies, server CPU, errors."""

    rows: tuple[Row, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The report as plain JSON values; ``results`` by ``kind.via.cache``."""
        return {
            "benchmark": self.benchmark,
            "title": self.title,
            "environment": self.environment,
            "results": {row.key: row.as_json() for row in self.rows},
            **self.facts,
        }

    def as_text(self) -> str:
        """The report for a terminal: settings, the table of scenarios, the facts, the ratios."""
        facts = {
            name: _printable(value)
            for name, value in self.facts.items()
            if name not in SUMMARY_KEYS
        }
        width = max(len(name) for name in [*self.environment, *facts])
        lines = [self.title, ""]
        lines += [f"{name.ljust(width)}  {value}" for name, value in self.environment.items()]
        table = format_table(HEADER, [row.cells() for row in self.rows])
        lines += ["", table, ""]
        lines += [f"{name.ljust(width)}  {value}" for name, value in facts.items()]
        return "\n".join([*lines, "", *summary_lines(self.rows, self.facts)])
