"""``agora bench storefront``: the shop's home page rendered for a guest, next to a hello-world.

One request of the storefront, a guest's (no ``Authorization``, no cookies):

* ``GET /``: the home page, the seeded catalogue's first page of products (newest first, the
  storefront's page size) with the category tree, filters and pager, rendered with Jinja; each
  page asks catalog twice over HTTP on its own port (``GET /api/v1/categories`` and ``GET
  /api/v1/products``).

Set-up, through the gateway: ``GET /api/v1/products?page=1&per_page=1`` must count at least one
product (else the run stops with a hint to ``agora seed`` the stack), and ``GET /`` must answer a
200 HTML page showing at least one product card. A private stack is seeded with catalog's demo data
(``agora seed --service catalog``, ``--products`` of them): the storefront keeps none.

``--rounds`` interleaved rounds (:mod:`agora_cli.bench.rounds`) as for basket: the hello-world on
its own and behind a gateway configured as the stack's, then the page through the stack's gateway
and on the storefront's own port; the report gives the medians over the rounds and the page's
requests/s as a share of the matching hello-world's. Server CPU per request counts the
storefront's, catalog's (each page asks it twice) and, through the gateway, Traefik's process. The
target (the storefront issue's server-side rendering budget): ``GET /`` via the gateway at >= 25%
of the hello-world via the same gateway, at 32 in flight.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from agora_cli.bench import Options, Report
from agora_cli.bench.identity import SETUP_TIMEOUT_SECONDS
from agora_cli.bench.identity_report import HELLO_LABEL, Goal
from agora_cli.bench.rounds import Request, Spec, rounds_report, run_on_stack
from agora_cli.bench.stacks import BenchmarkError, Target
from agora_cli.services import CATALOG, STOREFRONT

if TYPE_CHECKING:
    import httpx

DEFAULT_CONCURRENCY = 32
HOME_PATH = "/"
COUNT_PATH = "/api/v1/products?page=1&per_page=1"
KINDS = {"home": "GET / (product list, guest)"}
LABELS = {**KINDS, "hello": HELLO_LABEL}
# Each page asks catalog for the category tree and a page of products: its CPU is part of the cost.
SERVICE_ROLES = {
    "direct": ("storefront", "catalog"),
    "gateway": ("storefront", "catalog", "gateway"),
}
# The storefront issue's rendering budget: the home page via the gateway >= 25% of the
# hello-world via the same gateway, at 32 in flight.
GOAL = Goal("home.gateway", "GET / (product list) via the gateway", 0.25)
SPEC = Spec("storefront", "Storefront pages", SERVICE_ROLES, LABELS, GOAL, DEFAULT_CONCURRENCY)
HTTP_OK = 200
CARD = re.compile(r'<li class="card">')


async def catalogue_size(client: httpx.AsyncClient) -> int:
    """How many products the catalogue lists.

    Raises:
        BenchmarkError: When the count cannot be read, or is zero.
    """
    listed = await client.get(COUNT_PATH)
    if listed.status_code != HTTP_OK:
        raise BenchmarkError(f"GET {COUNT_PATH} answered {listed.status_code}: {listed.text}")
    total = int(listed.json()["total"])
    if total < 1:
        raise BenchmarkError(
            "the catalogue lists no products, the storefront benchmark renders a page of them: "
            "load the demo catalogue with `agora seed --service catalog`"
        )
    return total


async def home_cards(client: httpx.AsyncClient) -> tuple[int, int]:
    """The product cards on the home page a guest gets, and the page's size in bytes.

    Raises:
        BenchmarkError: When the page is not a 200 HTML page with at least one product card.
    """
    page = await client.get(HOME_PATH)
    if page.status_code != HTTP_OK or not page.headers.get("content-type", "").startswith(
        "text/html"
    ):
        raise BenchmarkError(
            f"GET {HOME_PATH} answered {page.status_code} "
            f"({page.headers.get('content-type')}): is the storefront up?"
        )
    cards = len(CARD.findall(page.text))
    if cards < 1:
        raise BenchmarkError(f"GET {HOME_PATH} shows no product card: is catalog up?")
    return cards, len(page.content)


async def measure(target: Target, options: Options) -> Report:
    """Check the catalogue and the page, then the interleaved rounds against ``target``."""
    import httpx

    async with httpx.AsyncClient(
        base_url=target.gateway_url, timeout=SETUP_TIMEOUT_SECONDS
    ) as setup:
        products = await catalogue_size(setup)
        cards, size = await home_cards(setup)
    found = {"catalogue_products": products, "cards_on_page": cards, "page_bytes": size}
    requests = {"home": Request(HOME_PATH)}
    return await rounds_report(SPEC, target, options, requests, None, found)


def run(options: Options) -> Report:
    """Measure the stack the options name, or a private one booted (and its catalogue seeded).

    Raises:
        ValueError: When only one of ``--gateway-url`` and ``--direct-url`` is given.
    """
    return run_on_stack(options, measure, STOREFRONT, CATALOG)
