"""``agora bench catalog``: product reads through the gateway and direct, warm and cold.

Four reads of ``GET /api/v1/products``, each over a fixed set of distinct requests (cache keys):

* product by id: ``/products/{id}`` for up to 200 ids spread evenly over the catalogue;
* list, page 1: page 1 of the whole catalogue in each sort order, 20 and 50 a page;
* filtered list: top- and second-level categories x three price bands, in stock only;
* search: ``q`` of two or three words, a few with a typo (the trigram match).

Each is timed through the gateway (Traefik) and against the catalog service's own port, with the
cache cold (the catalog's Redis database flushed and its in-process near cache left to expire,
then one pass over the distinct keys; timed ``--cold-passes`` times) and warm (after an untimed
pass over the keys, ``--requests`` requests over them in turn), at ``--concurrency`` requests in
flight, reading the CPU time the serving processes (the catalog service, and the gateway for reads
through it) used meanwhile. The baseline is a bare FastAPI hello-world on the same uvicorn
command line and load generator, on its own and behind a gateway configured like the stack's.
Last come ``--rounds`` rounds of the two baselines then cached product-by-id reads via the gateway
and direct, one right after another; the report (:mod:`agora_cli.bench.catalog_report`) gives the
median over the rounds of each ratio of hello-world requests/s to cached product-by-id requests/s
(the target: 2 via the gateway) and of the catalog's server CPU per cached read to the
hello-world's.

Without ``--gateway-url``/``--direct-url`` the benchmark boots a private stack (``agora up
--detach`` in a scratch data directory on free ports, the API rate limit raised), seeds it with
``agora seed`` and always runs ``agora down`` and deletes the directory afterwards; the pid files
of its data directory name the processes whose CPU time is read. A stack given by URL is measured
without CPU times: its processes are unknown.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Awaitable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from agora_chassis.pagination import MAX_PAGE_DEPTH, MAX_PER_PAGE
from agora_cli.bench import Measurement, Options, Report
from agora_cli.bench import cpu as server_cpu
from agora_cli.bench.catalog_report import (
    KINDS,
    CatalogReport,
    Row,
    cpu_source,
    median_summary,
    round_line,
    serving_roles,
    summary,
)
from agora_cli.bench.cpu import CpuUsage
from agora_cli.bench.http_load import (
    HELLO_PATH,
    Connection,
    LoadResult,
    behind_gateway,
    hello_server,
    merge,
    open_clients,
    run_load,
)
from agora_cli.bench.servers import machine_info, progress, stage, without_credentials

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx
    from redis.asyncio import Redis

    Clients = list[Connection]

DEFAULT_CONCURRENCY = 32
RATE_LIMIT = "10000000/minute"
# The catalog keeps what it read from Redis this long in each process (its near cache): a cold
# run waits it out after flushing Redis, so it really starts cold.
NEAR_CACHE_SECONDS = 1.0
NEAR_CACHE_MARGIN_SECONDS = 0.2
PRODUCT_IDS = 200
SAMPLE_PAGE_SIZE = MAX_PER_PAGE
PRODUCTS = "/api/v1/products"
CATEGORIES = "/api/v1/categories"
SORTS = tuple((sort, order) for sort in ("newest", "price", "name") for order in ("asc", "desc"))
PAGE_SIZES = (20, 50)
PRICE_BANDS = ((0, 25), (25, 100), (100, 1000))
SEARCHES = (
    "cast iron skillet",
    "chef knife",
    "espresso machine",
    "wireless mouse",
    "bluetooth speaker",
    "oak dining table",
    "linen cushion",
    "yoga mat",
    "garden hose",
    "mechanical keyboard",
    "stainles steel wok",
    "espreso grinder",
    "wireles keybord",
    "dinning chair",
    "velvet armchiar",
    "bamboo spatual",
)
SETUP_TIMEOUT_SECONDS = 60.0
COMMAND_TIMEOUT_SECONDS = 900.0
OUTPUT_TAIL_LINES = 30
SCRATCH_MODE = 0o755  # PostgreSQL runs as nobody when the CLI runs as root
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class BenchmarkError(RuntimeError):
    """The stack could not be booted, seeded or read."""


@dataclass(frozen=True)
class Target:
    """The stack under measurement: gateway, the catalog's own port, its Redis db (cold runs).

    ``pids`` are its serving processes by role (``catalog``, ``gateway``), when known.
    """

    gateway_url: str
    direct_url: str
    redis_url: str | None
    origin: str
    pids: Mapping[str, int] = field(default_factory=dict)


def stack_env(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` without ``AGORA_*``, plus distinct free ports and a rate limit out of the way."""
    from agora_cli.config import BLOCK_PORT_VARIABLES, PORT_VARIABLES
    from agora_cli.infra.ports import free_ports
    from agora_cli.services import SERVICES

    env = {name: value for name, value in base.items() if not name.startswith("AGORA_")}
    variables = list(PORT_VARIABLES)
    counts = [len(SERVICES) if name in BLOCK_PORT_VARIABLES else 1 for name in variables]
    env.update(zip(variables, map(str, free_ports(counts)), strict=True))
    env["AGORA_RATE_LIMIT"] = RATE_LIMIT
    env["AGORA_LOCAL_CACHE_SECONDS"] = str(NEAR_CACHE_SECONDS)
    return env


def stack_target(env: Mapping[str, str], pids: Mapping[str, int] | None = None) -> Target:
    """Where the stack that ``env``'s ports describe serves the catalog, and its Redis db.

    Args:
        env: The stack's environment (its ``AGORA_*_PORT`` variables).
        pids: Its serving processes by role, when known (:func:`stack_pids`).
    """
    from agora_cli.config import ports_from_env
    from agora_cli.infra.ports import LOOPBACK
    from agora_cli.services import CATALOG

    ports = ports_from_env(env)
    return Target(
        gateway_url=f"http://{LOOPBACK}:{ports.gateway}",
        direct_url=f"http://{LOOPBACK}:{ports.service_base + CATALOG.port_offset}",
        redis_url=f"redis://{LOOPBACK}:{ports.redis}/{CATALOG.redis_db}",
        origin="private stack",
        pids=dict(pids or {}),
    )


def stack_pids(data_dir: Path) -> dict[str, int]:
    """The live processes of the catalog service and the gateway of the stack in ``data_dir``.

    Returns:
        Their pids by role (``catalog``, ``gateway``), from the pid files ``agora up`` wrote;
        a process that is not running is left out.
    """
    from agora_cli.config import StackConfig
    from agora_cli.infra.gateway import Gateway
    from agora_cli.infra.process import read_process
    from agora_cli.services import CATALOG

    config = StackConfig(data_dir=data_dir)
    processes = {
        role: read_process(config.pid_file(name))
        for role, name in (("catalog", CATALOG.name), ("gateway", Gateway.name))
    }
    return {role: process.pid for role, process in processes.items() if process is not None}


def agora(data_dir: Path, env: Mapping[str, str], *args: str) -> None:
    """Run ``agora ARGS --data-dir DATA_DIR`` (this interpreter's CLI) with ``env``.

    Raises:
        BenchmarkError: With the end of its output when it fails.
    """
    argv = [sys.executable, "-m", "agora_cli.main", *args, "--data-dir", str(data_dir)]
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv: this interpreter running the CLI
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"agora {args[0]} took over {COMMAND_TIMEOUT_SECONDS:.0f}s") from None
    if result.returncode != 0:
        output = (result.stdout + result.stderr).splitlines()[-OUTPUT_TAIL_LINES:]
        raise BenchmarkError(f"agora {args[0]} failed:\n" + "\n".join(output))


def _on_signals(handler: Any) -> dict[int, Any]:
    """Handle SIGINT and SIGTERM with ``handler`` (main thread only); return the previous ones."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}


@contextmanager
def private_stack(products: int | None) -> Iterator[Target]:
    """Boot and seed a stack of its own for the block; ``agora down`` and cleanup always run.

    Ctrl-C and SIGTERM end the block through its cleanup, also when the benchmark was started in
    the background (where SIGINT comes ignored); a second one cannot interrupt ``agora down``.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="agora-bench-stack-"))
    data_dir.chmod(SCRATCH_MODE)
    env = stack_env(os.environ)
    seed = ["--service", "catalog", *(["--count", str(products)] if products else [])]
    previous = _on_signals(signal.default_int_handler)  # asyncio.run cancels its task on it
    try:
        with stage(f"booting a private stack in {data_dir} (agora up --detach)"):
            agora(data_dir, env, "up", "--detach")
        with stage(f"seeding it (agora seed {' '.join(seed)})"):
            agora(data_dir, env, "seed", *seed)
        yield stack_target(env, stack_pids(data_dir))
    finally:
        _on_signals(signal.SIG_IGN)
        try:
            with stage("stopping it (agora down)"):
                agora(data_dir, env, "down")
        except BenchmarkError as error:  # never hide why the run ended
            progress(f"agora down failed, stop the stack in {data_dir} by hand: {error}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


async def sample_ids(client: httpx.AsyncClient, wanted: int) -> list[str]:
    """Up to ``wanted`` product ids spread evenly over the catalogue sorted by name.

    Only the first ``MAX_PAGE_DEPTH`` products by name can be paged to (the API refuses deeper
    pages), so a larger catalogue is sampled from those.
    """
    ids: list[str] = []
    page, pages = 1, 1
    while page <= min(pages, MAX_PAGE_DEPTH // SAMPLE_PAGE_SIZE):
        response = await client.get(
            PRODUCTS, params={"sort": "name", "per_page": SAMPLE_PAGE_SIZE, "page": page}
        )
        response.raise_for_status()
        body = response.json()
        ids += [str(item["id"]) for item in body["data"]]
        page, pages = page + 1, int(body["total_pages"])
    if not ids:
        raise BenchmarkError("the catalogue is empty: seed it first (agora seed)")
    count = min(wanted, len(ids))
    return [ids[index * len(ids) // count] for index in range(count)]


async def category_slugs(client: httpx.AsyncClient) -> list[str]:
    """Slugs of the top-level categories and of their sub-categories, in the tree's order."""
    response = await client.get(CATEGORIES)
    response.raise_for_status()
    slugs: list[str] = []
    for top in response.json():
        slugs += [top["slug"], *(child["slug"] for child in top.get("children", []))]
    return slugs


def query(**parameters: object) -> str:
    """``/api/v1/products`` with ``parameters`` as its query string."""
    return f"{PRODUCTS}?{urlencode(parameters)}"


async def scenario_paths(client: httpx.AsyncClient) -> dict[str, list[str]]:
    """The distinct requests of each kind of read, built from the catalogue behind ``client``."""
    ids = await sample_ids(client, PRODUCT_IDS)
    slugs = await category_slugs(client)
    return {
        "product": [f"{PRODUCTS}/{product_id}" for product_id in ids],
        "list": [
            query(page=1, per_page=size, sort=sort, order=order)
            for size in PAGE_SIZES
            for sort, order in SORTS
        ],
        "filtered": [
            query(category=slug, in_stock="true", min_price=low, max_price=high)
            for slug in slugs
            for low, high in PRICE_BANDS
        ],
        "search": [query(q=text) for text in SEARCHES],
    }


class _Run:
    """The timed scenarios of one run against a stack, printed on stderr as they finish."""

    def __init__(
        self, options: Options, redis: Redis | None, pids: Mapping[str, int] | None = None
    ) -> None:
        """Prepare a run; ``pids`` are the stack's serving processes by role, when known."""
        self.options = options
        self.concurrency = options.concurrency_or(DEFAULT_CONCURRENCY)
        self.redis = redis
        self.pids = dict(pids or {})
        self.rows: list[Row] = []
        self.rounds: list[list[Row]] = []

    def keep(self, row: Row) -> None:
        """Keep a finished scenario and print it."""
        self.rows.append(row)
        progress(row.line())

    async def timed(
        self, kind: str, via: str, load: Awaitable[LoadResult]
    ) -> tuple[LoadResult, CpuUsage | None]:
        """Run ``load``, reading the CPU time of the processes serving it (if all known)."""
        roles = serving_roles(kind, via)
        known = all(role in self.pids for role in roles)
        pids = {role: self.pids[role] for role in roles} if known else {}
        return await server_cpu.measure(pids, load)

    async def open_connections(self, clients: Clients, path: str) -> None:
        """One request per client (untimed), so a timed run finds every connection open."""
        await run_load(clients, [path], len(clients))

    async def cold(
        self, kind: str, clients: Clients, redis: Redis, paths: list[str], via: str
    ) -> tuple[LoadResult, CpuUsage | None]:
        """``cold_passes`` times: flush the catalog's Redis db, then time a pass over ``paths``."""
        passes, usages = [], []
        for _ in range(self.options.cold_passes):
            await self.open_connections(clients, paths[0])  # before the flush
            await redis.flushdb()
            await asyncio.sleep(NEAR_CACHE_SECONDS + NEAR_CACHE_MARGIN_SECONDS)
            result, usage = await self.timed(kind, via, run_load(clients, paths, len(paths)))
            passes.append(result)
            usages.append(usage)
        return merge(passes), server_cpu.add(usages)

    async def warm(
        self, kind: str, clients: Clients, paths: list[str], via: str
    ) -> tuple[LoadResult, CpuUsage | None]:
        """An untimed pass over ``paths`` fills the cache; then ``requests`` over them in turn."""
        await run_load(clients, paths, max(len(paths), len(clients)))
        return await self.timed(kind, via, run_load(clients, paths, self.options.requests))

    async def read(self, kind: str, paths: list[str], vias: dict[str, Clients]) -> None:
        """Every timed run of one kind of read: cold (with a Redis to flush) then warm, per via."""
        for via, clients in vias.items():
            if self.redis is not None:
                cold = await self.cold(kind, clients, self.redis, paths, via)
                self.keep(Row(kind, via, "cold", *cold))
            self.keep(Row(kind, via, "warm", *await self.warm(kind, clients, paths, via)))

    async def hello(self, vias: dict[str, Clients]) -> list[Row]:
        """The hello-world through each via, measured like a warm scenario."""
        return [
            Row("hello", via, "-", *await self.warm("hello", clients, [HELLO_PATH], via))
            for via, clients in vias.items()
        ]

    async def baseline(self, hello: dict[str, Clients]) -> None:
        """The hello-world on its own (``uvicorn``) and behind a gateway like the stack's."""
        progress(
            "baseline: a bare FastAPI hello-world, alone and behind a gateway like the stack's"
        )
        for row in await self.hello(hello):
            self.keep(row)

    async def target_rounds(
        self, hello: dict[str, Clients], paths: list[str], vias: dict[str, Clients]
    ) -> None:
        """``rounds`` times: the hello-world, then cached reads by id through each via, in a row."""
        for number in range(1, self.options.rounds + 1):
            rows = await self.hello(hello)
            for via, clients in vias.items():
                read = await self.warm("product", clients, paths, via)
                rows.append(Row("product", via, "warm", *read))
            self.rounds.append(rows)
            progress(round_line(number, self.options.rounds, rows))


def facts(run: _Run, paths: Mapping[str, list[str]]) -> dict[str, Any]:
    """The settings of the run, and the ratios to the baseline (:func:`summary`)."""
    return {
        "concurrency": run.concurrency,
        "requests_per_warm_scenario": run.options.requests,
        "cold_passes": run.options.cold_passes if run.redis is not None else 0,
        "distinct_requests": {kind: len(paths[kind]) for kind in KINDS},
        "errors": sum(row.result.errors for row in [*run.rows, *chain(*run.rounds)]),
        **(median_summary(run.rounds) if run.rounds else summary(run.rows)),
    }


@asynccontextmanager
async def _redis(url: str | None) -> AsyncIterator[Redis | None]:
    if url is None:
        yield None
        return
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()


def _environment(target: Target, concurrency: int) -> dict[str, str]:
    import httptools

    redis = target.redis_url and without_credentials(target.redis_url)
    cache = f"{redis} (flushed for the cold runs)" if redis else "no cold runs"
    return {
        **machine_info(),  # before the runs: the load shows what else the machine ran
        "stack": target.origin,
        "gateway": without_credentials(target.gateway_url),
        "direct": without_credentials(target.direct_url),
        "cache": cache,
        "client": f"asyncio streams + httptools {httptools.__version__}, {concurrency} in flight "
        "(a keep-alive HTTP/1.1 connection each)",
        "server cpu": cpu_source(target.pids),
    }


async def measure(target: Target, options: Options) -> CatalogReport:
    """The baseline, then every kind of read via the gateway and direct, cold and warm."""
    import httpx

    concurrency = options.concurrency_or(DEFAULT_CONCURRENCY)
    environment = _environment(target, concurrency)
    with hello_server() as server, behind_gateway(server) as fronted:
        async with (
            _redis(target.redis_url) as redis,
            httpx.AsyncClient(base_url=target.direct_url, timeout=SETUP_TIMEOUT_SECONDS) as setup,
            open_clients(server.url, concurrency) as hello_alone,
            open_clients(fronted.url, concurrency) as hello_via_gateway,
            open_clients(target.gateway_url, concurrency) as gateway,
            open_clients(target.direct_url, concurrency) as direct,
        ):
            pids = {**target.pids, "hello": server.pid, "hello_gateway": fronted.pid}
            run = _Run(options, redis, pids)
            hello = {"uvicorn": hello_alone, "gateway": hello_via_gateway}
            await run.baseline(hello)
            paths = await scenario_paths(setup)
            vias = {"gateway": gateway, "direct": direct}
            for kind in KINDS:
                await run.read(kind, paths[kind], vias)
            await run.target_rounds(hello, paths["product"], vias)
    passes = options.cold_passes if target.redis_url else 0
    title = (
        f"Catalog reads: {concurrency} in flight, {options.requests} requests a warm scenario, "
        f"{passes} cold pass{'' if passes == 1 else 'es'}"
    )
    measurements = [
        Measurement(row.key, row.label, row.result.requests, (row.result.seconds,))
        for row in run.rows
    ]
    return CatalogReport(
        "catalog", title, environment, measurements, facts(run, paths), tuple(run.rows)
    )


def run(options: Options) -> Report:
    """Measure the stack the options name, or a private one booted and seeded for the run.

    Raises:
        ValueError: When only one of ``--gateway-url`` and ``--direct-url`` is given, or
            ``--redis-url`` without them.
    """
    gateway_url, direct_url = options.gateway_url, options.direct_url
    if gateway_url and direct_url:
        target = Target(gateway_url, direct_url, options.redis_url, "external")
        return asyncio.run(measure(target, options))
    if gateway_url or direct_url or options.redis_url:
        raise ValueError("--gateway-url and --direct-url name a running stack together")
    with private_stack(options.products) as target:
        return asyncio.run(measure(target, options))
