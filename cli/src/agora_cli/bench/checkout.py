"""``agora bench checkout``: orders placed through the gateway and carried by the saga to PAID.

``--requests`` orders (one line, one unit of one of a few new products each) are placed by
``--concurrency`` workers (default 16), each ``POST /api/v1/orders`` through the gateway as the
admin, with a fresh ``Idempotency-Key`` and a card token made beforehand, the payment simulator
at zero latency and no faults. The saga then carries each order on its own: catalog reserves
the stock, payment charges the simulator, ordering marks it PAID.

**Completion is measured from the server's own times, not by polling each order.** After the last
``POST``, the benchmark asks the admin search how many of the buyer's orders are still pending,
stock_reserved or awaiting_payment until none is (or the count stops moving for
:data:`STALL_SECONDS`), then until the broker's consumers have nothing pending, and only then
reads every order back (``GET /api/v1/orders/{id}``): ``placed_at`` and the ``paid`` entry of
its timeline give each order's place→PAID latency, and the rate to PAID is the PAID orders
over the window from the first ``placed_at`` to the last ``paid`` (:mod:`.checkout_stats`).

**The load generator is Python** (an ``httpx.AsyncClient``), not wrk: a checkout is a ``POST``
whose work goes on after the answer, so what matters is when each order reaches PAID, which only
the orders themselves tell; every ``POST`` also needs its own body (a single-use card token) and
its own ``Idempotency-Key``, which wrk's fixed request cannot send. The client's cost (about
1 ms of CPU per ``POST``) lands on the same CPUs, but the rate is read from the servers' clock.

Set-up (not timed): the admin logs in (:func:`agora_cli.bench.identity.admin_token`), creates
:data:`PRODUCTS` products in the first category with stock for every order, sets the simulator's
faults to zero and makes one token per order directly on the simulator's port. Before the run
the stack idles :data:`~.checkout_costs.STATS_SETTLE_SECONDS` (PostgreSQL reports commits late)
and that idle time gives the background commit rate. The cost per order
(:mod:`.checkout_costs`) is the growth over the run of the services' database commits and of
the JetStream messages, over the orders, background work (relay polls, the deadline scheduler,
health checks, the completion polls) included, and each process's CPU time from the first
``POST`` until the consumers are idle. Target (issue 15): >= 100 orders/s to PAID, p99 <= 1 s.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agora_cli.bench import Options, Report
from agora_cli.bench import checkout_costs as costs
from agora_cli.bench import cpu as server_cpu
from agora_cli.bench.checkout_report import Placed, Reading, Run, checkout_report
from agora_cli.bench.checkout_stats import UNFINISHED
from agora_cli.bench.identity import REGISTER_PATH, SETUP_TIMEOUT_SECONDS, TOKEN_PATH, admin_token
from agora_cli.bench.servers import progress, stage
from agora_cli.bench.stacks import BenchmarkError, Target, private_stack
from agora_cli.services import ORDERING

if TYPE_CHECKING:
    import httpx

DEFAULT_CONCURRENCY = 16
DEFAULT_ORDERS = 400
"""Few enough for two cores to carry before the backlog passes the 30 s stock deadline."""
PRODUCTS = 8
ORDERS_PATH = "/api/v1/orders"
ADMIN_ORDERS_PATH = "/api/v1/admin/orders"
BUYER_PASSWORD = "Checkout-Bench-2026!"  # noqa: S105 - a throwaway account that buys
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}
NO_FAULTS = {"latency_ms": 0, "failure_rate": 0, "timeout_rate": 0}
SHIP_TO = {
    "name": "Bench Buyer",
    "street": "1 Load Street",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
}
POLL_SECONDS = 0.5
STALL_SECONDS = 30.0
HTTP_OK, HTTP_CREATED = 200, 201
Headers = dict[str, str]


def _json(response: httpx.Response, what: str, expected: int = HTTP_OK) -> Any:
    if response.status_code != expected:
        raise BenchmarkError(f"{what} answered {response.status_code}: {response.text[:300]}")
    return response.json()


async def category_id(client: httpx.AsyncClient, headers: dict[str, str], run: str) -> str:
    """The first category, else a new one (a stack without demo data has none)."""
    categories = _json(await client.get("/api/v1/categories"), "GET /api/v1/categories")
    if categories:
        return str(categories[0]["id"])
    body = {"name": f"Checkout bench {run}", "slug": f"checkout-bench-{run}"}
    made = await client.post("/api/v1/categories", json=body, headers=headers)
    return str(_json(made, "POST /api/v1/categories", HTTP_CREATED)["id"])


async def create_products(
    client: httpx.AsyncClient, headers: dict[str, str], count: int, on_hand: int
) -> list[str]:
    """``count`` new products with ``on_hand`` units each, in the first category; their ids."""
    run = uuid.uuid4().hex[:8]
    category = await category_id(client, headers, run)
    ids = []
    for index in range(count):
        body = {
            "sku": f"BENCH-{run}-{index}",
            "name": f"Checkout bench product {run} {index}",
            "brand": "Agora",
            "price": "10.00",
            "category_id": category,
            "on_hand": on_hand,
        }
        made = await client.post("/api/v1/products", json=body, headers=headers)
        ids.append(str(_json(made, "POST /api/v1/products", HTTP_CREATED)["id"]))
    return ids


async def card_tokens(client: httpx.AsyncClient, count: int, concurrency: int) -> list[str]:
    """``count`` single-use card tokens from the simulator (``client``'s base URL), faults off."""
    _json(await client.put("/admin/faults", json=NO_FAULTS), "PUT /admin/faults")
    gate = asyncio.Semaphore(concurrency)

    async def one() -> str:
        async with gate:
            made = await client.post("/v1/tokens", json={"card": CARD})
        return str(_json(made, "POST /v1/tokens")["id"])

    return list(await asyncio.gather(*(one() for _ in range(count))))


def order_body(product_id: str, token: str) -> dict[str, Any]:
    """One unit of ``product_id``, shipped to a fixed address, paid with ``token``."""
    return {
        "lines": [{"product_id": product_id, "quantity": 1}],
        "ship_to": SHIP_TO,
        "payment_token": token,
    }


async def place_orders(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    bodies: Sequence[dict[str, Any]],
    concurrency: int,
) -> Placed:
    """``POST`` every body through ``client`` from ``concurrency`` workers, each once."""
    placed, pending = Placed(), iter(bodies)

    async def worker() -> None:
        for body in pending:
            sent = {**headers, "Idempotency-Key": str(uuid.uuid4())}
            start = time.perf_counter()
            try:
                answer = await client.post(ORDERS_PATH, json=body, headers=sent)
            except Exception as error:  # noqa: BLE001 - a refusal to count, whatever it is
                placed.errors.append(repr(error))
                continue
            placed.latencies.append(time.perf_counter() - start)
            if answer.status_code == HTTP_CREATED:
                placed.order_ids.append(str(answer.json()["id"]))
            else:
                placed.errors.append(f"{answer.status_code} {answer.text[:200]}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    placed.seconds = time.perf_counter() - start
    placed.latencies.sort()
    return placed


async def unfinished(client: httpx.AsyncClient, headers: dict[str, str], buyer: str) -> int:
    """How many of ``buyer``'s orders are neither PAID nor CANCELLED (admin search)."""
    total = 0
    for status in UNFINISHED:
        params: dict[str, str | int] = {"status": status, "customer": buyer, "per_page": 1}
        listed = await client.get(ADMIN_ORDERS_PATH, params=params, headers=headers)
        total += int(_json(listed, f"GET {ADMIN_ORDERS_PATH}")["total"])
    return total


async def wait_for(count: Callable[[], Awaitable[int]], what: str) -> int:
    """Poll ``count`` until it is 0, or has not moved for :data:`STALL_SECONDS`; the last count."""
    last, since = -1, time.monotonic()
    while True:
        left = await count()
        if left == 0:
            return 0
        if left != last:
            last, since = left, time.monotonic()
        elif time.monotonic() - since > STALL_SECONDS:
            progress(f"{left} {what} for {STALL_SECONDS:.0f}s: giving up waiting")
            return left
        await asyncio.sleep(POLL_SECONDS)


async def read_orders(
    client: httpx.AsyncClient, headers: dict[str, str], ids: Sequence[str], concurrency: int
) -> list[dict[str, Any]]:
    """Every order of ``ids``, whole (with its timeline)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(order_id: str) -> dict[str, Any]:
        async with gate:
            read = await client.get(f"{ORDERS_PATH}/{order_id}", headers=headers)
        body: dict[str, Any] = _json(read, f"GET {ORDERS_PATH}/{order_id}")
        return body

    return list(await asyncio.gather(*(one(order_id) for order_id in ids)))


async def sign_in(client: httpx.AsyncClient, target: Target) -> tuple[Headers, Headers, str]:
    """The admin's bearer header, and a new customer's header and user id (the buyer).

    The buyer registers (``user.registered`` makes them a recipient of notification's order
    e-mails; the seeded admin is none, so its orders' e-mails would be retried, then
    dead-lettered) and signs in once.
    """
    token = await admin_token(client, os.environ if target.origin == "external" else {})
    email = f"checkout-{uuid.uuid4().hex[:10]}@bench.example"
    account = {"email": email, "password": BUYER_PASSWORD, "full_name": "Checkout Bench"}
    registered = await client.post(REGISTER_PATH, json=account)
    buyer = str(_json(registered, f"POST {REGISTER_PATH}", HTTP_CREATED)["id"])
    login = await client.post(TOKEN_PATH, data={"username": email, "password": BUYER_PASSWORD})
    access_token = _json(login, f"POST {TOKEN_PATH}")["access_token"]
    return _bearer(token), _bearer(access_token), buyer


def _bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Prepared:
    """What the set-up made: who searches (the admin), who buys, and every order's body."""

    admin: Headers
    customer: Headers
    buyer: str
    bodies: list[dict[str, Any]]


async def set_up(
    target: Target, access: costs.StackAccess, options: Options, concurrency: int
) -> Prepared:
    """Sign in, create the products, make the tokens and the orders' bodies."""
    import httpx

    orders = options.requests_or(DEFAULT_ORDERS)
    async with httpx.AsyncClient(
        base_url=target.gateway_url, timeout=SETUP_TIMEOUT_SECONDS
    ) as client:
        admin, customer, buyer = await sign_in(client, target)
        with stage(f"creating {PRODUCTS} products with {orders} units each"):
            products = await create_products(client, admin, PRODUCTS, orders)
    async with httpx.AsyncClient(base_url=access.paysim_url, timeout=SETUP_TIMEOUT_SECONDS) as sim:
        with stage(f"making {orders} card tokens on the payment simulator"):
            tokens = await card_tokens(sim, orders, concurrency)
    bodies = [order_body(products[i % len(products)], token) for i, token in enumerate(tokens)]
    return Prepared(admin, customer, buyer, bodies)


async def reading(access: costs.StackAccess, monitor: httpx.AsyncClient) -> Reading:
    """Read the commits (when the database is known) and the streams now."""
    commits = await costs.commits(access.database_url) if access.database_url else None
    return Reading(time.monotonic(), commits, await costs.streams(monitor, access.monitor_url))


async def idle_rates(
    access: costs.StackAccess, monitor: httpx.AsyncClient
) -> tuple[Reading, dict[str, float | None]]:
    """Let the stack idle while PostgreSQL's statistics settle; the last reading and what the
    idle stack committed and published a second meanwhile (its background work)."""
    first = await reading(access, monitor)
    with stage(f"idling {costs.STATS_SETTLE_SECONDS:.0f}s (background rates, statistics settle)"):
        await asyncio.sleep(costs.STATS_SETTLE_SECONDS)
    last = await reading(access, monitor)
    seconds = last.at - first.at
    commits = None
    if last.commits is not None and first.commits is not None:
        commits = round((last.commits - first.commits) / seconds, 1)
    messages = round((last.streams.messages - first.streams.messages) / seconds, 1)
    return last, {"commits_per_second": commits, "messages_per_second": messages}


async def saga_run(
    client: httpx.AsyncClient,
    monitor: httpx.AsyncClient,
    access: costs.StackAccess,
    prepared: Prepared,
    concurrency: int,
    baseline: int,
) -> tuple[Placed, int]:
    """The timed part: place every order, wait until none is unfinished and the broker's
    consumers have no more pending than ``baseline`` (before the run). Returns the placements
    and the backlog left beyond it (0 normally)."""
    placed = await place_orders(client, prepared.customer, prepared.bodies, concurrency)
    progress(
        f"{len(placed.order_ids)} orders placed in {placed.seconds:.1f}s "
        f"({len(placed.errors)} refused); waiting for the saga to finish them"
    )
    await wait_for(lambda: unfinished(client, prepared.admin, prepared.buyer), "orders unfinished")

    async def backlog() -> int:  # beyond what was pending before (retries of earlier runs)
        pending = (await costs.streams(monitor, access.monitor_url)).backlog
        return max(pending - baseline, 0)

    return placed, await wait_for(backlog, "messages pending at the consumers")


async def measure(target: Target, options: Options) -> Report:
    """Set up, run the orders through the saga, read them back and the counters, and report."""
    import httpx

    concurrency = options.concurrency_or(DEFAULT_CONCURRENCY)
    access = costs.stack_access(target, options.database_url)
    prepared = await set_up(target, access, options, concurrency)
    limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency)
    async with (
        httpx.AsyncClient(
            base_url=target.gateway_url, timeout=SETUP_TIMEOUT_SECONDS, limits=limits
        ) as client,
        httpx.AsyncClient(timeout=SETUP_TIMEOUT_SECONDS) as monitor,
    ):
        before, background = await idle_rates(access, monitor)
        started = time.monotonic()
        (placed, backlog), usage = await server_cpu.measure(
            access.pids,
            saga_run(client, monitor, access, prepared, concurrency, before.streams.backlog),
            reader=costs.tree_cpu_seconds,
        )
        cpu_window = time.monotonic() - started
        await asyncio.sleep(costs.STATS_SETTLE_SECONDS)
        after = await reading(access, monitor)
        with stage(f"reading the {len(placed.order_ids)} orders back"):
            orders = await read_orders(client, prepared.customer, placed.order_ids, concurrency)
    run = Run(
        options.requests_or(DEFAULT_ORDERS), concurrency, placed, backlog, before, after, background
    )
    return checkout_report(target, access, run, orders, usage, cpu_window)


def run(options: Options) -> Report:
    """Measure the stack ``--gateway-url`` names, or a private one booted for the run."""
    if options.gateway_url:
        target = Target(options.gateway_url, options.gateway_url, None, "external")
        return asyncio.run(measure(target, options))
    with private_stack(None, ORDERING) as target:
        return asyncio.run(measure(target, options))
