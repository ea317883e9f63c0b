"""``agora bench identity``: authenticated, database-backed reads next to a FastAPI hello-world.

Two reads of identity, each a token check and a query, with an admin's bearer token:

* ``GET /api/v1/users/me``: one primary-key read of the caller's account;
* ``GET /api/v1/users?page=1&per_page=20``: the admin's list page (a count and 20 rows), the
  list filled to 20 accounts first by registering ``bench-NN@bench.example`` users if it has
  fewer (on a running stack too: those accounts stay).

``--rounds`` interleaved rounds (:mod:`agora_cli.bench.rounds`) each time the hello-world on its
own (``uvicorn``) and behind a gateway configured as the stack's
(:func:`agora_cli.bench.http_load.behind_gateway`), then both reads through the stack's gateway and
on identity's own port, one right after another; the report
(:mod:`agora_cli.bench.identity_report`) gives each path's medians over the rounds and its
requests/s as a share of the matching hello-world's (via the gateway: the hello-world via the
same gateway; direct: the hello-world on its own). The target (issue 13): ``/users/me`` via the
gateway at >= 30% of the hello-world via the gateway, p99 <= 60 ms, at 32 in flight.

The token is fetched once (``POST /api/v1/auth/token`` as ``$AGORA_ADMIN_EMAIL`` /
``$AGORA_ADMIN_PASSWORD``, else the development admin ``agora up`` creates): the login limits
allow a handful of logins a minute, and a client reuses its token anyway.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from agora_cli.bench import Options, Report
from agora_cli.bench.identity_report import IDENTITY_GOAL, LABELS, SERVICE_ROLES
from agora_cli.bench.rounds import Request, Spec, rounds_report, run_on_stack
from agora_cli.bench.stacks import BenchmarkError, Target
from agora_cli.env import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from agora_cli.services import IDENTITY

if TYPE_CHECKING:
    import httpx

DEFAULT_CONCURRENCY = 32
TOKEN_PATH = "/api/v1/auth/token"  # noqa: S105 - a path, not a password
REGISTER_PATH = "/api/v1/auth/register"
ME_PATH = "/api/v1/users/me"
PAGE_SIZE = 20
LIST_PATH = f"/api/v1/users?page=1&per_page={PAGE_SIZE}"
PATHS = {"me": ME_PATH, "users": LIST_PATH}
BENCH_PASSWORD = "Bench-Reader-2026!"  # noqa: S105 - throwaway accounts that fill a list page
SETUP_TIMEOUT_SECONDS = 60.0
HTTP_OK = 200
HTTP_CREATED = 201
HTTP_CONFLICT = 409
SPEC = Spec("identity", "Identity reads", SERVICE_ROLES, LABELS, IDENTITY_GOAL, DEFAULT_CONCURRENCY)


async def admin_token(client: httpx.AsyncClient, environ: Mapping[str, str]) -> str:
    """An access token of the admin (``$AGORA_ADMIN_EMAIL``/``PASSWORD``, else the dev admin).

    Raises:
        BenchmarkError: When identity refuses the login.
    """
    email = environ.get("AGORA_ADMIN_EMAIL") or DEV_ADMIN_EMAIL
    password = environ.get("AGORA_ADMIN_PASSWORD") or DEV_ADMIN_PASSWORD
    response = await client.post(TOKEN_PATH, data={"username": email, "password": password})
    if response.status_code != HTTP_OK:
        raise BenchmarkError(
            f"admin login as {email} refused ({response.status_code}): set "
            "AGORA_ADMIN_EMAIL and AGORA_ADMIN_PASSWORD to the stack's admin"
        )
    return str(response.json()["access_token"])


async def fill_user_list(client: httpx.AsyncClient, token: str) -> int:
    """Register ``bench-NN@bench.example`` accounts until the list has a full page.

    Returns:
        How many accounts the list has now.

    Raises:
        BenchmarkError: When the list cannot be read or a registration is refused.
    """
    headers = {"Authorization": f"Bearer {token}"}
    listed = await client.get(LIST_PATH, headers=headers)
    if listed.status_code != HTTP_OK:
        raise BenchmarkError(f"GET {LIST_PATH} answered {listed.status_code}: {listed.text}")
    total = int(listed.json()["total"])
    for number in range(PAGE_SIZE - total):
        account = {
            "email": f"bench-{number:02d}@bench.example",
            "password": BENCH_PASSWORD,
            "full_name": f"Bench Reader {number:02d}",
        }
        registered = await client.post(REGISTER_PATH, json=account)
        if registered.status_code not in (HTTP_CREATED, HTTP_CONFLICT):
            raise BenchmarkError(f"registering a bench account: {registered.status_code}")
        total += registered.status_code == HTTP_CREATED
    return total


async def measure(target: Target, options: Options) -> Report:
    """Log in, fill the list page, then the interleaved rounds against ``target``."""
    import httpx

    async with httpx.AsyncClient(
        base_url=target.direct_url, timeout=SETUP_TIMEOUT_SECONDS
    ) as setup:
        token = await admin_token(setup, os.environ if target.origin == "external" else {})
        users = await fill_user_list(setup, token)
    requests = {kind: Request(path) for kind, path in PATHS.items()}
    found = {"users_listed": min(users, PAGE_SIZE)}
    return await rounds_report(SPEC, target, options, requests, token, found)


def run(options: Options) -> Report:
    """Measure the stack the options name, or a private one booted for the run.

    Raises:
        ValueError: When only one of ``--gateway-url`` and ``--direct-url`` is given.
    """
    return run_on_stack(options, measure, IDENTITY)
