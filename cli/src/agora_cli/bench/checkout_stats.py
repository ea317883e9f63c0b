"""The arithmetic of ``agora bench checkout``: saga times from the orders' own timelines, and
counter deltas (database commits, broker messages, CPU) per order.

Nothing here does I/O: the benchmark reads the orders and the counters
(:mod:`agora_cli.bench.checkout_costs`) and hands them over, so every figure of the report is
tested on plain values.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

from agora_cli.bench.http_load import percentile

PAID = "paid"
CANCELLED = "cancelled"
UNFINISHED = ("pending", "stock_reserved", "awaiting_payment")
MILLISECONDS = 1000.0
MICROSECONDS = 1e6
P50, P99 = 0.50, 0.99


@dataclass(frozen=True)
class OrderTimes:
    """One order as the benchmark needs it: its status, when it was placed and paid (server time).

    Attributes:
        status: Its status when read back (``paid``, ``cancelled``, or an unfinished one).
        placed_at: ``placed_at`` of the order.
        paid_at: The ``at`` of its timeline's ``paid`` entry (None when it has none).
        cancel_reason: Why it was cancelled, if it was.
        steps: Its timeline: each status entered, and when.
    """

    status: str
    placed_at: dt.datetime
    paid_at: dt.datetime | None = None
    cancel_reason: str | None = None
    steps: tuple[tuple[str, dt.datetime], ...] = ()

    @classmethod
    def of(cls, order: Mapping[str, Any]) -> OrderTimes:
        """Read ``GET /api/v1/orders/{id}``'s answer (``status``, ``placed_at``, ``timeline``)."""
        steps = tuple(
            (str(entry["status"]), dt.datetime.fromisoformat(entry["at"]))
            for entry in order.get("timeline", [])
        )
        paid = [at for status, at in steps if status == PAID]
        return cls(
            status=str(order["status"]),
            placed_at=dt.datetime.fromisoformat(order["placed_at"]),
            paid_at=paid[0] if paid else None,
            cancel_reason=order.get("cancel_reason"),
            steps=steps,
        )

    @property
    def seconds_to_paid(self) -> float | None:
        """Seconds from placed to PAID on the server's clock (None if it was not paid)."""
        if self.paid_at is None:
            return None
        return (self.paid_at - self.placed_at).total_seconds()


def _ms(seconds: float) -> float:
    return round(seconds * MILLISECONDS, 1)


def saga_summary(orders: Sequence[OrderTimes]) -> dict[str, Any]:
    """How the orders of a run ended, and how fast they reached PAID.

    ``paid_per_second`` is the PAID orders over the window from the first order placed to the
    last one paid (both the server's times); ``place_to_paid_ms`` the latency from ``placed_at``
    to the ``paid`` entry of each PAID order's timeline (nearest-rank percentiles).

    Returns:
        JSON values: counts by outcome, the PAID share, the window, the rate and the latencies.
    """
    paid = [order for order in orders if order.paid_at is not None]
    cancelled = [order for order in orders if order.status == CANCELLED]
    latencies = sorted(order.seconds_to_paid or 0.0 for order in paid)
    window = 0.0
    if paid:
        last_paid = max(order.paid_at for order in paid if order.paid_at is not None)
        window = (last_paid - min(order.placed_at for order in orders)).total_seconds()
    reasons = sorted({str(order.cancel_reason) for order in cancelled})
    return {
        "orders": len(orders),
        "paid": len(paid),
        "cancelled": len(cancelled),
        "unfinished": len(orders) - len(paid) - len(cancelled),
        "cancel_reasons": reasons,
        "paid_share": round(len(paid) / len(orders), 4) if orders else 0.0,
        "window_seconds": round(window, 3),
        "paid_per_second": round(len(paid) / window, 1) if window > 0 else 0.0,
        "place_to_paid_ms": {
            "p50": _ms(percentile(latencies, P50)),
            "p99": _ms(percentile(latencies, P99)),
            "max": _ms(latencies[-1]) if latencies else 0.0,
        },
        "step_median_ms": step_medians_ms(orders),
    }


def step_medians_ms(orders: Sequence[OrderTimes]) -> dict[str, float]:
    """The median time of each transition of the timelines (``pending->stock_reserved``...),
    in milliseconds, in the order the transitions first appear: where a checkout waits."""
    times: dict[str, list[float]] = {}
    for order in orders:
        for (entered, start), (status, end) in itertools.pairwise(order.steps):
            times.setdefault(f"{entered}->{status}", []).append((end - start).total_seconds())
    return {step: _ms(median(seconds)) for step, seconds in times.items()}


def deltas(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """What each counter grew by (a counter new in ``after`` from 0), the grown ones only."""
    grown = {name: value - before.get(name, 0) for name, value in after.items()}
    return {name: value for name, value in sorted(grown.items()) if value}


def per_order(total: float, orders: int) -> float:
    """``total`` per order, rounded to a tenth (0 for no orders)."""
    return round(total / orders, 1) if orders else 0.0


def net_per_order(total: float, background_per_second: float, seconds: float, orders: int) -> float:
    """``total`` less the background rate over ``seconds``, per order (never below 0)."""
    return per_order(max(total - background_per_second * seconds, 0.0), orders)


def cpu_per_order(seconds: Mapping[str, float], orders: int) -> dict[str, float]:
    """CPU microseconds per order by process, the most expensive first."""
    costs = {role: used * MICROSECONDS / max(orders, 1) for role, used in seconds.items()}
    return {role: round(costs[role]) for role in sorted(costs, key=lambda r: -costs[r])}


def verdict(summary: Mapping[str, Any], rate: float, p99_ms: float) -> str:
    """``met`` when every order was paid at ``rate`` orders/s or more with a p99 within bound."""
    met = (
        summary["orders"] > 0
        and summary["paid"] == summary["orders"]
        and summary["paid_per_second"] >= rate
        and summary["place_to_paid_ms"]["p99"] <= p99_ms
    )
    return "met" if met else "missed"
