"""``agora bench``: speed measurements of the building blocks, reported next to their ceilings.

Benchmarks are not tests: they time real work against real servers and print events per second
(``--json`` for tools); nothing asserts a speed. Each benchmark is a module of this package with a
``run(options) -> Report``, registered in :data:`BENCHMARKS` and imported only when it runs (its
imports, the chassis and the broker clients, would slow every other ``agora`` command down).
``benchmarks/`` at the repository root documents them and holds the published numbers.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agora_cli.ui import format_table

BROKER_URL_ENV = "AGORA_BENCH_BROKER_URL"
DATABASE_URL_ENV = "AGORA_BENCH_DATABASE_URL"
DEFAULT_EVENTS = 5000
DEFAULT_ROUNDS = 3
DEFAULT_CONCURRENCY = 64
DEFAULT_REQUESTS = 2000
DEFAULT_COLD_PASSES = 3
DEFAULT_DURATION_SECONDS = 5
GENERATORS = ("auto", "wrk", "python")
MIN_SECONDS = 1e-9
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Options:
    """What to measure, and against which servers (None: start embedded ones).

    ``concurrency`` None lets each benchmark pick its own (:meth:`concurrency_or`). ``requests``
    to ``redis_url`` are the HTTP benchmarks' (catalog, identity, basket, storefront); their URLs
    name a running stack, else they boot one. ``generator`` drives their timed runs (``auto``: wrk
    when installed, else the Python one); wrk runs ``duration`` seconds, the Python generator
    ``requests`` requests.
    """

    events: int = DEFAULT_EVENTS
    rounds: int = DEFAULT_ROUNDS
    warmup: int | None = None
    concurrency: int | None = None
    batch_size: int | None = None
    broker_url: str | None = None
    database_url: str | None = None
    requests: int | None = None
    cold_passes: int = DEFAULT_COLD_PASSES
    products: int | None = None
    gateway_url: str | None = None
    direct_url: str | None = None
    redis_url: str | None = None
    generator: str = "auto"
    duration: int = DEFAULT_DURATION_SECONDS

    def requests_or(self, default: int) -> int:
        """The requests (checkout: orders) asked for, else the benchmark's own ``default``."""
        return self.requests if self.requests is not None else default

    def concurrency_or(self, default: int) -> int:
        """The concurrency asked for, else the benchmark's own ``default``."""
        return self.concurrency if self.concurrency is not None else default

    @property
    def warmup_events(self) -> int:
        """Events of the untimed warm-up round: as asked, else a tenth of ``events`` (≥ 1)."""
        return self.warmup if self.warmup is not None else max(self.events // 10, 1)


@dataclass(frozen=True)
class Measurement:
    """One timed path: ``events`` moved in each round, taking ``seconds[i]`` in round ``i``."""

    key: str
    label: str
    events: int
    seconds: tuple[float, ...]

    @property
    def events_per_second(self) -> float:
        """The median over the rounds of events per second."""
        from statistics import median

        return median(self.events / max(s, MIN_SECONDS) for s in self.seconds)

    def as_json(self) -> dict[str, Any]:
        """The measurement as plain JSON values."""
        return {
            "label": self.label,
            "events": self.events,
            "seconds": [round(s, 4) for s in self.seconds],
            "events_per_second": round(self.events_per_second, 1),
        }


@dataclass(frozen=True)
class Report:
    """What a benchmark found: where it ran, the timed paths, and derived facts."""

    benchmark: str
    title: str
    environment: dict[str, str]
    measurements: list[Measurement]
    facts: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The report as plain JSON values."""
        return {
            "benchmark": self.benchmark,
            "title": self.title,
            "environment": self.environment,
            "results": {m.key: m.as_json() for m in self.measurements},
            **self.facts,
        }

    def as_text(self) -> str:
        """The report for a terminal: settings, a table of rates, then the derived facts."""
        from statistics import median

        width = max(len(name) for name in [*self.environment, *self.facts])
        lines = [self.title, ""]
        lines += [f"{name.ljust(width)}  {value}" for name, value in self.environment.items()]
        rows = [
            (
                m.label,
                m.events,
                f"{m.events_per_second:,.0f}",
                f"{median(m.seconds):.3f}",
            )
            for m in self.measurements
        ]
        lines += ["", format_table(["path", "events", "events/s", "seconds"], rows), ""]
        lines += [f"{name.ljust(width)}  {value}" for name, value in self.facts.items()]
        return "\n".join(lines)


@dataclass(frozen=True)
class Benchmark:
    """A registered benchmark."""

    name: str
    summary: str
    run: Callable[[Options], Report]


def _run_relay(options: Options) -> Report:
    from agora_cli.bench import relay

    return relay.run(options)


def _run_catalog(options: Options) -> Report:
    from agora_cli.bench import catalog

    return catalog.run(options)


def _run_identity(options: Options) -> Report:
    from agora_cli.bench import identity

    return identity.run(options)


def _run_basket(options: Options) -> Report:
    from agora_cli.bench import basket

    return basket.run(options)


def _run_storefront(options: Options) -> Report:
    from agora_cli.bench import storefront

    return storefront.run(options)


def _run_checkout(options: Options) -> Report:
    from agora_cli.bench import checkout

    return checkout.run(options)


BENCHMARKS: dict[str, Benchmark] = {
    benchmark.name: benchmark
    for benchmark in (
        Benchmark(
            "relay", "outbox relay throughput next to raw broker publishing (events/s)", _run_relay
        ),
        Benchmark(
            "catalog",
            "product reads via the gateway and direct, warm, cold and uncached search, next to "
            "a FastAPI hello-world (requests/s, p50/p99, server CPU per request, shares)",
            _run_catalog,
        ),
        Benchmark(
            "identity",
            "authenticated database-backed reads (GET /users/me, an admin list page) via the "
            "gateway and direct, next to a FastAPI hello-world (requests/s, p50/p99, ratios)",
            _run_identity,
        ),
        Benchmark(
            "basket",
            "GET and PUT of a 3-line basket (priced by catalog) via the gateway and direct, next "
            "to a FastAPI hello-world (requests/s, p50/p99, shares)",
            _run_basket,
        ),
        Benchmark(
            "storefront",
            "the shop's home page (a guest's product list, rendered server-side) via the "
            "gateway and direct, next to a FastAPI hello-world (requests/s, p50/p99, shares)",
            _run_storefront,
        ),
        Benchmark(
            "checkout",
            "orders placed through the gateway and carried to PAID by the saga, simulator at "
            "zero latency (orders/s to PAID, place->PAID p50/p99, commits, messages and CPU "
            "per order)",
            _run_checkout,
        ),
    )
}


def _count(text: str, least: int = 1) -> int:
    value = int(text)
    if value < least:
        raise argparse.ArgumentTypeError(f"{text} is less than {least}")
    return value


def _positive(text: str) -> int:
    return _count(text)


def _not_negative(text: str) -> int:
    return _count(text, least=0)


def add_parser(commands: Any) -> None:
    """Add ``agora bench`` to the CLI's subcommands (``commands`` from ``add_subparsers``)."""
    listing = "; ".join(f"{b.name}: {b.summary}" for b in BENCHMARKS.values())
    bench = commands.add_parser(
        "bench", help="measure throughput (agora bench --list)", epilog=f"benchmarks: {listing}"
    )
    bench.add_argument("name", nargs="?", choices=list(BENCHMARKS), help="default: all of them")
    bench.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    bench.add_argument("-n", "--events", type=_positive, default=DEFAULT_EVENTS)
    bench.add_argument("--rounds", type=_positive, default=DEFAULT_ROUNDS, help="median taken")
    bench.add_argument(
        "--warmup", type=_not_negative, help="untimed events first (default: events / 10)"
    )
    bench.add_argument(
        "--concurrency",
        type=_positive,
        help="in flight (default: relay 64, HTTP ones 32, checkout 16)",
    )
    bench.add_argument("--batch-size", type=_positive, help="relay batch (default: the relay's)")
    bench.add_argument("--broker-url", help=f"default: ${BROKER_URL_ENV}, else embedded NATS")
    bench.add_argument(
        "--database-url",
        help=f"default: ${DATABASE_URL_ENV}, else embedded; checkout: a running stack's superuser",
    )
    _add_catalog_arguments(bench)
    bench.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _add_catalog_arguments(bench: argparse.ArgumentParser) -> None:
    bench.add_argument(
        "--requests",
        type=_positive,
        help=(
            f"HTTP benchmarks: requests a timed run with the Python generator (default "
            f"{DEFAULT_REQUESTS}); checkout: orders (default 400)"
        ),
    )
    bench.add_argument(
        "--generator",
        choices=GENERATORS,
        default="auto",
        help="HTTP benchmarks: load generator of the timed runs (auto: wrk when installed)",
    )
    bench.add_argument(
        "--duration",
        type=_positive,
        default=DEFAULT_DURATION_SECONDS,
        help="HTTP benchmarks: seconds a timed run with wrk",
    )
    bench.add_argument(
        "--cold-passes",
        type=_positive,
        default=DEFAULT_COLD_PASSES,
        help="catalog: cache flushes, each followed by one pass over the keys",
    )
    bench.add_argument(
        "--products",
        type=_positive,
        help="catalog, basket, storefront: products seeded (default: 1200)",
    )
    bench.add_argument(
        "--gateway-url",
        help=(
            "catalog, identity, basket, storefront, checkout: a running stack's gateway "
            "(else their own)"
        ),
    )
    bench.add_argument(
        "--direct-url", help="catalog, identity, basket, storefront: that stack's service itself"
    )
    bench.add_argument("--redis-url", help="catalog: its Redis db to flush (else no cold runs)")


def options_from(args: argparse.Namespace) -> Options:
    """Build :class:`Options` from parsed arguments, URLs falling back to the environment."""
    return Options(
        events=args.events,
        rounds=args.rounds,
        warmup=args.warmup,
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        broker_url=args.broker_url or os.environ.get(BROKER_URL_ENV) or None,
        database_url=args.database_url or os.environ.get(DATABASE_URL_ENV) or None,
        requests=args.requests,
        cold_passes=args.cold_passes,
        products=args.products,
        gateway_url=args.gateway_url,
        direct_url=args.direct_url,
        redis_url=args.redis_url,
        generator=args.generator,
        duration=args.duration,
    )


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the named benchmark, or every one, and print the reports.

    A stack that cannot be booted, seeded or set up, or a load generator that cannot run, ends
    the command with ``agora: <why>`` (exit status 1), not a traceback.
    """
    from agora_cli.bench.stacks import BenchmarkError
    from agora_cli.bench.wrk import WrkError

    if args.list:
        sys.stdout.write(format_table(["name", "measures"], _listing()) + "\n")
        return 0
    options = options_from(args)
    names: Sequence[str] = [args.name] if args.name else list(BENCHMARKS)
    try:
        reports = [BENCHMARKS[name].run(options) for name in names]
    except KeyboardInterrupt:  # the benchmark has stopped what it started
        sys.stderr.write("agora: interrupted\n")
        return EXIT_INTERRUPTED
    except (BenchmarkError, WrkError) as error:
        sys.stderr.write(f"agora: {error}\n")
        return 1
    if args.json:
        import json

        sys.stdout.write(json.dumps({r.benchmark: r.as_json() for r in reports}, indent=2) + "\n")
    else:
        sys.stdout.write("\n\n".join(report.as_text() for report in reports) + "\n")
    return 0


def _listing() -> list[tuple[str, str]]:
    return [(b.name, b.summary) for b in BENCHMARKS.values()]
