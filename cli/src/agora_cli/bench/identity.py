"""``agora bench identity``: authenticated, database-backed reads next to a FastAPI hello-world.

Two reads of identity, each a token check and a query, with an admin's bearer token:

* ``GET /api/v1/users/me``: one primary-key read of the caller's account;
* ``GET /api/v1/users?page=1&per_page=20``: the admin's list page (a count and 20 rows), the
  list filled to 20 accounts first by registering ``bench-NN@bench.example`` users if it has
  fewer (on a running stack too: those accounts stay).

``--rounds`` interleaved rounds each time the hello-world on its own (``uvicorn``) and behind a
gateway configured as the stack's (:func:`agora_cli.bench.http_load.behind_gateway`), then both
reads through the stack's gateway and on identity's own port, one right after another; the report
(:mod:`agora_cli.bench.identity_report`) gives each path's medians over the rounds and its
requests/s as a share of the matching hello-world's (via the gateway: the hello-world via the
same gateway; direct: the hello-world on its own). The target (issue 13): ``/users/me`` via the
gateway at >= 30% of the hello-world via the gateway, p99 <= 60 ms, at 32 in flight.

The token is fetched once (``POST /api/v1/auth/token`` as ``$AGORA_ADMIN_EMAIL`` /
``$AGORA_ADMIN_PASSWORD``, else the development admin ``agora up`` creates): the login limits
allow a handful of logins a minute, and a client reuses its token anyway.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import TYPE_CHECKING

from agora_cli.bench import Options, Report, wrk
from agora_cli.bench import cpu as server_cpu
from agora_cli.bench.catalog_report import Row
from agora_cli.bench.http_load import HELLO_PATH, behind_gateway, hello_server
from agora_cli.bench.identity_report import (
    HELLO_ROLES,
    KINDS,
    SERVICE_ROLES,
    IdentityReport,
    round_line,
    summarize,
)
from agora_cli.bench.load import Endpoint, describe, open_endpoint
from agora_cli.bench.servers import machine_info, progress, without_credentials
from agora_cli.bench.stacks import BenchmarkError, Target, private_stack
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


class _Run:
    """The interleaved rounds of one run, printed on stderr as they finish."""

    def __init__(self, options: Options, pids: Mapping[str, int] | None = None) -> None:
        """Prepare a run; ``pids`` are the serving processes by role, when known."""
        self.options = options
        self.pids = dict(pids or {})
        self.rounds: list[list[Row]] = []

    async def time(self, kind: str, via: str, endpoint: Endpoint, path: str) -> Row:
        """One timed run of ``path``, with the CPU time of the processes serving it."""
        roles = HELLO_ROLES[via] if kind == "hello" else SERVICE_ROLES[via]
        known = all(role in self.pids for role in roles)
        pids = {role: self.pids[role] for role in roles} if known else {}
        result, usage = await server_cpu.measure(
            pids, endpoint.timed([path], self.options.requests)
        )
        return Row(kind, via, "-", result, usage)

    async def warm_up(self, endpoints: Mapping[tuple[str, str], Endpoint]) -> None:
        """One untimed request per connection of every endpoint: connections open, code warm."""
        for (kind, _via), endpoint in endpoints.items():
            path = HELLO_PATH if kind == "hello" else PATHS[kind]
            served = await endpoint.fixed([path], endpoint.concurrency)
            if served.errors:
                raise BenchmarkError(f"{endpoint.url}{path}: {served.errors} requests failed")

    async def rounds_of(self, endpoints: Mapping[tuple[str, str], Endpoint]) -> None:
        """``rounds`` times: every path, one right after another."""
        for number in range(1, self.options.rounds + 1):
            rows = []
            for (kind, via), endpoint in endpoints.items():
                path = HELLO_PATH if kind == "hello" else PATHS[kind]
                rows.append(await self.time(kind, via, endpoint, path))
            self.rounds.append(rows)
            progress(round_line(number, self.options.rounds, rows))


def _environment(target: Target, options: Options, concurrency: int) -> dict[str, str]:
    return {
        **machine_info(),
        "stack": target.origin,
        "gateway": without_credentials(target.gateway_url),
        "direct": without_credentials(target.direct_url),
        "generator": options.generator,
        "client": describe(options.generator, concurrency, options.duration, options.requests),
        "token": "one admin access token for every request (fetched once)",
    }


async def measure(target: Target, options: Options) -> Report:
    """Log in, fill the list page, then the interleaved rounds against ``target``."""
    import httpx

    concurrency = options.concurrency_or(DEFAULT_CONCURRENCY)
    environment = _environment(target, options, concurrency)
    async with httpx.AsyncClient(
        base_url=target.direct_url, timeout=SETUP_TIMEOUT_SECONDS
    ) as setup:
        token = await admin_token(setup, os.environ if target.origin == "external" else {})
        users = await fill_user_list(setup, token)
    auth = {"Authorization": f"Bearer {token}"}
    with hello_server() as server, behind_gateway(server) as fronted:
        urls = {
            ("hello", "uvicorn"): (server.url, {}),
            ("hello", "gateway"): (fronted.url, {}),
            **{(kind, "gateway"): (target.gateway_url, auth) for kind in KINDS},
            **{(kind, "direct"): (target.direct_url, auth) for kind in KINDS},
        }
        async with AsyncExitStack() as stack:
            endpoints = {
                key: await stack.enter_async_context(
                    open_endpoint(url, concurrency, options.generator, options.duration, headers)
                )
                for key, (url, headers) in urls.items()
            }
            run = _Run(options, {**target.pids, "hello": server.pid, "hello_gateway": fronted.pid})
            await run.warm_up(endpoints)
            await run.rounds_of(endpoints)
    facts = {
        "generator": options.generator,
        "concurrency": concurrency,
        "rounds": options.rounds,
        "users_listed": min(users, PAGE_SIZE),
        **summarize(run.rounds),
    }
    return IdentityReport(
        "identity", _title(options, concurrency), environment, [], facts, run.rounds
    )


def _title(options: Options, concurrency: int) -> str:
    timed = wrk.timed_run_label(options.generator, options.duration, options.requests)
    return (
        f"Identity reads: {concurrency} in flight, {timed}, "
        f"median of {options.rounds} interleaved rounds"
    )


def run(options: Options) -> Report:
    """Measure the stack the options name, or a private one booted for the run.

    Raises:
        ValueError: When only one of ``--gateway-url`` and ``--direct-url`` is given.
    """
    options = replace(options, generator=wrk.choose(options.generator))
    if options.gateway_url and options.direct_url:
        target = Target(options.gateway_url, options.direct_url, None, "external")
        return asyncio.run(measure(target, options))
    if options.gateway_url or options.direct_url:
        raise ValueError("--gateway-url and --direct-url name a running stack together")
    with private_stack(None, IDENTITY) as target:
        return asyncio.run(measure(target, options))
