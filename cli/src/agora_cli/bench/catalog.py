"""``agora bench catalog``: product reads through the gateway and direct, warm, cold, uncached.

Four reads of ``GET /api/v1/products``, each over a fixed set of distinct requests (cache keys):

* product by id: ``/products/{id}`` for up to 200 ids spread evenly over the catalogue;
* list, page 1: page 1 of the whole catalogue in each sort order, 20 and 50 a page;
* filtered list: top- and second-level categories x three price bands, in stock only;
* search: ``q`` of two or three words, a few with a typo (the trigram match).

Each is timed through the gateway (Traefik) and against the catalog service's own port, with the
cache cold (the catalog's Redis database flushed and its in-process near cache left to expire,
then one pass over the distinct keys; timed ``--cold-passes`` times) and warm (after an untimed
pass over the keys, a timed run over them in turn), at ``--concurrency`` requests in flight,
reading the CPU time the serving processes (the catalog service, and the gateway for reads
through it) used meanwhile. Then **uncached search**: a timed run of searches each sent once
(:func:`agora_cli.bench.searches.uncached`; the gateway and the direct run get different texts),
so every one misses the cache. The timed runs (warm, uncached, rounds) use wrk when it is
installed, else the Python generator (:mod:`agora_cli.bench.load`); cold passes are always the
Python generator's (one pass over the keys, an exact count).

The baseline is a bare FastAPI hello-world on the same uvicorn command line and load generator,
on its own and behind a gateway configured as the stack's (errors middleware and error service
included). Last come ``--rounds`` rounds of the two baselines then cached product-by-id reads via
the gateway and direct, one right after another; the report
(:mod:`agora_cli.bench.catalog_report`) gives the median over the rounds of each ratio. The stack
is a private one (:mod:`agora_cli.bench.stacks`) unless ``--gateway-url``/``--direct-url`` name one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from itertools import chain
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from agora_chassis.pagination import MAX_PAGE_DEPTH, MAX_PER_PAGE
from agora_cli.bench import DEFAULT_REQUESTS, Measurement, Options, Report, wrk
from agora_cli.bench import cpu as server_cpu
from agora_cli.bench.catalog_report import (
    KINDS,
    UNCACHED,
    CatalogReport,
    Row,
    cpu_source,
    median_summary,
    round_line,
    serving_roles,
    summary,
)
from agora_cli.bench.cpu import CpuUsage
from agora_cli.bench.http_load import HELLO_PATH, LoadResult, behind_gateway, hello_server, merge
from agora_cli.bench.load import Endpoint, describe, open_endpoint
from agora_cli.bench.searches import WARM, uncached
from agora_cli.bench.servers import machine_info, progress, without_credentials
from agora_cli.bench.stacks import (
    NEAR_CACHE_SECONDS,
    RATE_LIMIT,
    BenchmarkError,
    Target,
    agora,
    private_stack,
    stack_env,
    stack_pids,
    stack_target,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx
    from redis.asyncio import Redis

__all__ = [
    "RATE_LIMIT",
    "BenchmarkError",
    "Target",
    "agora",
    "measure",
    "private_stack",
    "run",
    "stack_env",
    "stack_pids",
    "stack_target",
]

DEFAULT_CONCURRENCY = 32
NEAR_CACHE_MARGIN_SECONDS = 0.2
PRODUCT_IDS = 200
SAMPLE_PAGE_SIZE = MAX_PER_PAGE
PRODUCTS = "/api/v1/products"
CATEGORIES = "/api/v1/categories"
SORTS = tuple((sort, order) for sort in ("newest", "price", "name") for order in ("asc", "desc"))
PAGE_SIZES = (20, 50)
PRICE_BANDS = ((0, 25), (25, 100), (100, 1000))
SEARCHES = WARM
SETUP_TIMEOUT_SECONDS = 60.0
# Uncached searches: enough distinct texts for a timed run at well over any uncached rate seen.
UNCACHED_PER_SECOND = 600
# The Python generator's uncached run: at a few dozen searches a second on two busy CPUs, the
# default 2,000 requests took over a minute a run.
UNCACHED_MAX_REQUESTS = 400


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

    async def cold(
        self, kind: str, endpoint: Endpoint, redis: Redis, paths: list[str], via: str
    ) -> tuple[LoadResult, CpuUsage | None]:
        """``cold_passes`` times: flush the catalog's Redis db, then time a pass over ``paths``."""
        passes, usages = [], []
        for _ in range(self.options.cold_passes):
            await endpoint.fixed(paths[:1], endpoint.concurrency)  # connections open, pre-flush
            await redis.flushdb()
            await asyncio.sleep(NEAR_CACHE_SECONDS + NEAR_CACHE_MARGIN_SECONDS)
            result, usage = await self.timed(kind, via, endpoint.fixed(paths, len(paths)))
            passes.append(result)
            usages.append(usage)
        return merge(passes), server_cpu.add(usages)

    async def warm(
        self, kind: str, endpoint: Endpoint, paths: list[str], via: str
    ) -> tuple[LoadResult, CpuUsage | None]:
        """An untimed pass over ``paths`` fills the cache; then a timed run over them in turn."""
        await endpoint.fixed(paths, max(len(paths), endpoint.concurrency))
        return await self.timed(
            kind, via, endpoint.timed(paths, self.options.requests_or(DEFAULT_REQUESTS))
        )

    async def read(self, kind: str, paths: list[str], vias: dict[str, Endpoint]) -> None:
        """Every timed run of one kind of read: cold (with a Redis to flush) then warm, per via."""
        for via, endpoint in vias.items():
            if self.redis is not None:
                cold = await self.cold(kind, endpoint, self.redis, paths, via)
                self.keep(Row(kind, via, "cold", *cold))
            self.keep(Row(kind, via, "warm", *await self.warm(kind, endpoint, paths, via)))

    def uncached_count(self) -> int:
        """How many distinct searches a timed run may send (each via gets its own)."""
        if self.options.generator == wrk.WRK:
            return self.options.duration * UNCACHED_PER_SECOND
        return min(self.options.requests_or(DEFAULT_REQUESTS), UNCACHED_MAX_REQUESTS)

    async def uncached(self, vias: dict[str, Endpoint]) -> None:
        """Searches each sent once, so each misses the cache: a timed run per via."""
        texts = uncached(self.uncached_count() * len(vias))
        for number, (via, endpoint) in enumerate(vias.items()):
            paths = [query(q=text) for text in texts[number :: len(vias)]]
            await endpoint.fixed([PRODUCTS], endpoint.concurrency)  # connections open
            load = endpoint.timed(
                paths, min(self.options.requests_or(DEFAULT_REQUESTS), len(paths))
            )
            self.keep(Row(UNCACHED, via, "miss", *await self.timed(UNCACHED, via, load)))

    async def hello(self, vias: dict[str, Endpoint]) -> list[Row]:
        """The hello-world through each via, measured like a warm scenario."""
        return [
            Row("hello", via, "-", *await self.warm("hello", endpoint, [HELLO_PATH], via))
            for via, endpoint in vias.items()
        ]

    async def baseline(self, hello: dict[str, Endpoint]) -> None:
        """The hello-world on its own (``uvicorn``) and behind a gateway like the stack's."""
        progress(
            "baseline: a bare FastAPI hello-world, alone and behind a gateway like the stack's"
        )
        for row in await self.hello(hello):
            self.keep(row)

    async def target_rounds(
        self, hello: dict[str, Endpoint], paths: list[str], vias: dict[str, Endpoint]
    ) -> None:
        """``rounds`` times: the hello-world, then cached reads by id through each via, in a row."""
        for number in range(1, self.options.rounds + 1):
            rows = await self.hello(hello)
            for via, endpoint in vias.items():
                read = await self.warm("product", endpoint, paths, via)
                rows.append(Row("product", via, "warm", *read))
            self.rounds.append(rows)
            progress(round_line(number, self.options.rounds, rows))


def facts(run: _Run, paths: Mapping[str, list[str]]) -> dict[str, Any]:
    """The settings of the run, and the ratios to the baseline (:func:`summary`)."""
    return {
        "generator": run.options.generator,
        "concurrency": run.concurrency,
        "requests_per_warm_scenario": run.options.requests_or(DEFAULT_REQUESTS),
        "seconds_per_timed_run": run.options.duration if run.options.generator == wrk.WRK else None,
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


def _environment(target: Target, options: Options) -> dict[str, str]:
    concurrency = options.concurrency_or(DEFAULT_CONCURRENCY)
    redis = target.redis_url and without_credentials(target.redis_url)
    cache = f"{redis} (flushed for the cold runs)" if redis else "no cold runs"
    return {
        **machine_info(),  # before the runs: the load shows what else the machine ran
        "stack": target.origin,
        "gateway": without_credentials(target.gateway_url),
        "direct": without_credentials(target.direct_url),
        "cache": cache,
        "generator": options.generator,
        "client": describe(
            options.generator, concurrency, options.duration, options.requests_or(DEFAULT_REQUESTS)
        ),
        "server cpu": cpu_source(target.pids),
    }


async def measure(target: Target, options: Options) -> CatalogReport:
    """The baseline, then every kind of read via the gateway and direct, cold and warm, then
    uncached searches and the target rounds. ``options.generator`` is ``wrk`` or ``python``."""
    import httpx

    concurrency = options.concurrency_or(DEFAULT_CONCURRENCY)
    environment = _environment(target, options)
    with hello_server() as server, behind_gateway(server) as fronted:
        async with AsyncExitStack() as stack:
            redis = await stack.enter_async_context(_redis(target.redis_url))
            setup = await stack.enter_async_context(
                httpx.AsyncClient(base_url=target.direct_url, timeout=SETUP_TIMEOUT_SECONDS)
            )
            endpoints = {
                name: await stack.enter_async_context(
                    open_endpoint(url, concurrency, options.generator, options.duration)
                )
                for name, url in (
                    ("hello", server.url),
                    ("hello_gateway", fronted.url),
                    ("gateway", target.gateway_url),
                    ("direct", target.direct_url),
                )
            }
            pids = {**target.pids, "hello": server.pid, "hello_gateway": fronted.pid}
            run = _Run(options, redis, pids)
            hello = {"uvicorn": endpoints["hello"], "gateway": endpoints["hello_gateway"]}
            await run.baseline(hello)
            paths = await scenario_paths(setup)
            vias = {"gateway": endpoints["gateway"], "direct": endpoints["direct"]}
            for kind in KINDS:
                await run.read(kind, paths[kind], vias)
            await run.uncached(vias)
            await run.target_rounds(hello, paths["product"], vias)
    measurements = [
        Measurement(row.key, row.label, row.result.requests, (row.result.seconds,))
        for row in run.rows
    ]
    title = _title(options, concurrency, options.cold_passes if target.redis_url else 0)
    return CatalogReport(
        "catalog", title, environment, measurements, facts(run, paths), tuple(run.rows)
    )


def _title(options: Options, concurrency: int, passes: int) -> str:
    timed = wrk.timed_run_label(
        options.generator, options.duration, options.requests_or(DEFAULT_REQUESTS)
    )
    return (
        f"Catalog reads: {concurrency} in flight, {timed}, "
        f"{passes} cold pass{'' if passes == 1 else 'es'}"
    )


def run(options: Options) -> Report:
    """Measure the stack the options name, or a private one booted and seeded for the run.

    Raises:
        ValueError: When only one of ``--gateway-url`` and ``--direct-url`` is given, or
            ``--redis-url`` without them.
        agora_cli.bench.wrk.WrkError: When ``--generator wrk`` and wrk is not installed.
    """
    from dataclasses import replace

    options = replace(options, generator=wrk.choose(options.generator))
    gateway_url, direct_url = options.gateway_url, options.direct_url
    if gateway_url and direct_url:
        target = Target(gateway_url, direct_url, options.redis_url, "external")
        return asyncio.run(measure(target, options))
    if gateway_url or direct_url or options.redis_url:
        raise ValueError("--gateway-url and --direct-url name a running stack together")
    with private_stack(options.products) as target:
        return asyncio.run(measure(target, options))
