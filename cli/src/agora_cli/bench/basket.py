"""``agora bench basket``: the basket read and written through the gateway, next to a hello-world.

Two requests of basket with an admin's bearer token, each priced by catalog (one ``GetProducts``
over gRPC a request) and kept in Redis:

* ``GET /api/v1/basket``: the admin's basket of three lines, one unit of each of three active
  products of one currency, the first three the catalogue lists;
* ``PUT /api/v1/basket/items/{id}`` with ``{"quantity": 2}``: the first of those lines set to the
  same quantity every time (catalog is asked, the line written to Redis, the basket priced and
  answered); wrk sends the method and body from its Lua script
  (:mod:`agora_cli.bench.wrk`), the Python generator from each connection.

Set-up, through the gateway: log in as the admin (:func:`agora_cli.bench.identity.admin_token`),
list the catalogue, empty the admin's basket (on a running stack too: this benchmark owns the
admin's basket while it runs), put the three products in it and read it back: three lines, none
``stale`` (catalog answered). A private stack is seeded with catalog's demo data (``agora seed
--service catalog``, ``--products`` of them); a running stack whose catalogue has fewer than
three active products of one currency is refused with a hint to ``agora seed`` it.

``--rounds`` interleaved rounds (:mod:`agora_cli.bench.rounds`) each time the hello-world on its
own and behind a gateway configured as the stack's, then both requests through the stack's
gateway and on basket's own port; the report gives each path's medians over the rounds and its
requests/s as a share of the matching hello-world's. Server CPU per request counts basket's,
catalog's (each request asks it) and, through the gateway, Traefik's process. The target (issue
14): ``GET`` via the gateway at >= 35% of the hello-world via the same gateway, at 32 in flight;
the ``PUT`` is reported without a target.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agora_cli.bench import Options, Report
from agora_cli.bench.identity import SETUP_TIMEOUT_SECONDS, admin_token
from agora_cli.bench.identity_report import HELLO_LABEL, Goal
from agora_cli.bench.rounds import Request, Spec, rounds_report, run_on_stack
from agora_cli.bench.stacks import BenchmarkError, Target
from agora_cli.services import BASKET, CATALOG

if TYPE_CHECKING:
    import httpx

DEFAULT_CONCURRENCY = 32
BASKET_PATH = "/api/v1/basket"
ITEM_PATH = "/api/v1/basket/items/{product_id}"
PRODUCTS_PATH = "/api/v1/products?page=1&per_page=20"
LINES = 3
PUT_QUANTITY = 2
PUT_BODY = json.dumps({"quantity": PUT_QUANTITY}).encode()
JSON_BODY = {"Content-Type": "application/json"}
KINDS = {
    "get": f"GET /basket ({LINES} lines)",
    "put": f"PUT /basket/items/{{id}} (quantity {PUT_QUANTITY})",
}
LABELS = {**KINDS, "hello": HELLO_LABEL}
# Each request asks catalog for the basket's products: its CPU is part of a request's cost.
SERVICE_ROLES = {"direct": ("basket", "catalog"), "gateway": ("basket", "catalog", "gateway")}
# Issue 14: GET basket (3 lines, catalog warm) via the gateway >= 35% of the hello-world via the
# same gateway, at 32 in flight. The PUT has no target.
GOAL = Goal("get.gateway", "GET /basket via the gateway", 0.35)
SPEC = Spec("basket", "Basket reads and writes", SERVICE_ROLES, LABELS, GOAL, DEFAULT_CONCURRENCY)
HTTP_OK = 200


async def pick_products(client: httpx.AsyncClient, count: int = LINES) -> list[str]:
    """The ids of the first ``count`` active products the catalogue lists, of one currency.

    Raises:
        BenchmarkError: When the list cannot be read or has too few such products.
    """
    listed = await client.get(PRODUCTS_PATH)
    if listed.status_code != HTTP_OK:
        raise BenchmarkError(f"GET {PRODUCTS_PATH} answered {listed.status_code}: {listed.text}")
    products = [product for product in listed.json()["data"] if product["active"]]
    currency = products[0]["currency"] if products else None
    chosen = [str(product["id"]) for product in products if product["currency"] == currency]
    if len(chosen) < count:
        raise BenchmarkError(
            f"the catalogue lists {len(chosen)} active products of one currency, the basket "
            f"benchmark needs {count}: load the demo catalogue with `agora seed --service catalog`"
        )
    return chosen[:count]


def _checked(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON body of a 200 answer to ``what``.

    Raises:
        BenchmarkError: When the answer is not a 200.
    """
    if response.status_code != HTTP_OK:
        raise BenchmarkError(f"{what} answered {response.status_code}: {response.text}")
    body: dict[str, Any] = response.json()
    return body


async def fill_basket(
    client: httpx.AsyncClient, token: str, product_ids: Sequence[str]
) -> dict[str, Any]:
    """Empty the admin's basket, put one unit of each product in it, and read it back.

    Returns:
        The basket as ``GET /api/v1/basket`` answers it.

    Raises:
        BenchmarkError: When basket refuses a request, or the basket read back does not hold
            exactly those products (in any order) priced by catalog (none ``stale``).
    """
    headers = {"Authorization": f"Bearer {token}"}
    _checked(await client.delete(BASKET_PATH, headers=headers), f"DELETE {BASKET_PATH}")
    for product_id in product_ids:
        path = ITEM_PATH.format(product_id=product_id)
        put = await client.put(path, json={"quantity": 1}, headers=headers)
        _checked(put, f"PUT {path}")
    basket = _checked(await client.get(BASKET_PATH, headers=headers), f"GET {BASKET_PATH}")
    held = sorted(str(line["product_id"]) for line in basket["lines"])  # lines: by name
    if held != sorted(product_ids) or basket["stale"]:
        raise BenchmarkError(
            f"the basket holds {held} (stale: {basket['stale']}) instead of "
            f"{sorted(product_ids)}, priced by catalog: is catalog up?"
        )
    return basket


def requests_of(product_ids: Sequence[str]) -> dict[str, Request]:
    """What each kind sends: the basket read, and the first product's line set again."""
    item = ITEM_PATH.format(product_id=product_ids[0])
    return {"get": Request(BASKET_PATH), "put": Request(item, "PUT", PUT_BODY, JSON_BODY)}


async def measure(target: Target, options: Options) -> Report:
    """Log in, fill the basket, then the interleaved rounds against ``target``."""
    import httpx

    async with httpx.AsyncClient(
        base_url=target.gateway_url, timeout=SETUP_TIMEOUT_SECONDS
    ) as setup:
        token = await admin_token(setup, os.environ if target.origin == "external" else {})
        product_ids = await pick_products(setup)
        basket = await fill_basket(setup, token, product_ids)
    requests = requests_of(product_ids)
    found = {
        "basket_lines": len(basket["lines"]),
        "put": f"PUT {requests['put'].path} {PUT_BODY.decode()}",
    }
    return await rounds_report(SPEC, target, options, requests, token, found)


def run(options: Options) -> Report:
    """Measure the stack the options name, or a private one booted (and its catalogue seeded).

    Raises:
        ValueError: When only one of ``--gateway-url`` and ``--direct-url`` is given.
    """
    return run_on_stack(options, measure, BASKET, CATALOG)
