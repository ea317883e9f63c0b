"""Interleaved rounds of a service's requests against hello-world baselines (identity, basket).

A benchmark names its requests (:class:`Request`: a path, with a method, body and headers when
it is not a plain ``GET``) by kind. :func:`interleaved_rounds` starts the hello-world
(:func:`agora_cli.bench.http_load.hello_server`) and a gateway configured as the stack's in front
of it (:func:`agora_cli.bench.http_load.behind_gateway`), opens an endpoint for each path (the
hello-world alone and behind its gateway, then each request through the stack's gateway and on
the service's own port, with the caller's headers), warms every endpoint with one request per
connection, then ``--rounds`` times runs every path one right after another, each timed with the
CPU time of the processes serving it when they are known. :func:`rounds_report` runs them and
reports the medians and shares over the rounds (:mod:`agora_cli.bench.identity_report`), judged
against the benchmark's goal (its :class:`Spec`).

:func:`run_on_stack` measures the stack ``--gateway-url``/``--direct-url`` name, or boots a
private one for the run (:func:`agora_cli.bench.stacks.private_stack`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import Any

from agora_cli.bench import DEFAULT_REQUESTS, Options, Report, wrk
from agora_cli.bench import cpu as server_cpu
from agora_cli.bench.catalog_report import Row
from agora_cli.bench.http_load import HELLO_PATH, behind_gateway, hello_server
from agora_cli.bench.identity_report import (
    HELLO_ROLES,
    Goal,
    SharesReport,
    round_line,
    summarize,
)
from agora_cli.bench.load import Endpoint, describe, open_endpoint
from agora_cli.bench.servers import machine_info, progress, without_credentials
from agora_cli.bench.stacks import BenchmarkError, Target, private_stack
from agora_cli.services import ServiceSpec

HELLO = "hello"
VIAS = ("gateway", "direct")


@dataclass(frozen=True)
class Request:
    """What one timed path sends: ``method path`` with ``headers`` and ``body`` (none if empty)."""

    path: str
    method: str = "GET"
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


HELLO_REQUEST = Request(HELLO_PATH)


@dataclass(frozen=True)
class Spec:
    """What a benchmark of interleaved rounds measures and judges.

    Attributes:
        benchmark: Its name (``agora bench NAME``, the key in ``--json``).
        heading: The report title's first words.
        service_roles: The roles (pid names) serving a request ``via`` the gateway or direct.
        labels: What each kind of request is, for a person.
        goal: The target the verdict is about.
        concurrency: Requests in flight unless ``--concurrency`` says otherwise.
    """

    benchmark: str
    heading: str
    service_roles: Mapping[str, tuple[str, ...]]
    labels: Mapping[str, str]
    goal: Goal
    concurrency: int = 32


class _Run:
    """The interleaved rounds of one run, printed on stderr as they finish."""

    def __init__(
        self,
        options: Options,
        paths: Mapping[str, str],
        service_roles: Mapping[str, tuple[str, ...]],
        pids: Mapping[str, int] | None = None,
    ) -> None:
        """Prepare a run of ``paths`` by kind; ``pids`` are the serving processes by role."""
        self.options = options
        self.paths = {HELLO: HELLO_PATH, **paths}
        self.service_roles = service_roles
        self.pids = dict(pids or {})
        self.rounds: list[list[Row]] = []

    async def time(self, kind: str, via: str, endpoint: Endpoint) -> Row:
        """One timed run of ``kind``'s path, with the CPU time of the processes serving it."""
        roles = HELLO_ROLES[via] if kind == HELLO else self.service_roles[via]
        known = all(role in self.pids for role in roles)
        pids = {role: self.pids[role] for role in roles} if known else {}
        result, usage = await server_cpu.measure(
            pids, endpoint.timed([self.paths[kind]], self.options.requests_or(DEFAULT_REQUESTS))
        )
        return Row(kind, via, "-", result, usage)

    async def warm_up(self, endpoints: Mapping[tuple[str, str], Endpoint]) -> None:
        """One untimed request per connection of every endpoint: connections open, code warm."""
        for (kind, _via), endpoint in endpoints.items():
            path = self.paths[kind]
            served = await endpoint.fixed([path], endpoint.concurrency)
            if served.errors:
                raise BenchmarkError(
                    f"{endpoint.method} {endpoint.url}{path}: {served.errors} requests failed"
                )

    async def rounds_of(self, endpoints: Mapping[tuple[str, str], Endpoint]) -> None:
        """``rounds`` times: every path, one right after another."""
        for number in range(1, self.options.rounds + 1):
            rows = [
                await self.time(kind, via, endpoint) for (kind, via), endpoint in endpoints.items()
            ]
            self.rounds.append(rows)
            progress(round_line(number, self.options.rounds, rows))


Sent = dict[tuple[str, str], tuple[str, Request, Mapping[str, str]]]


def _sent(
    hello_urls: tuple[str, str],
    target: Target,
    requests: Mapping[str, Request],
    headers: Mapping[str, str],
) -> Sent:
    """URL, request and headers by ``(kind, via)``: the hello-worlds, then every request via the
    gateway, then every request direct."""
    alone, fronted = hello_urls
    where = {"gateway": target.gateway_url, "direct": target.direct_url}
    return {
        (HELLO, "uvicorn"): (alone, HELLO_REQUEST, {}),
        (HELLO, "gateway"): (fronted, HELLO_REQUEST, {}),
        **{
            (kind, via): (where[via], request, {**headers, **request.headers})
            for via in VIAS
            for kind, request in requests.items()
        },
    }


def _open(
    url: str, request: Request, headers: Mapping[str, str], options: Options, concurrency: int
) -> AbstractAsyncContextManager[Endpoint]:
    generator, seconds = options.generator, options.duration
    return open_endpoint(
        url, concurrency, generator, seconds, headers, request.method, request.body
    )


async def interleaved_rounds(
    target: Target,
    options: Options,
    concurrency: int,
    requests: Mapping[str, Request],
    headers: Mapping[str, str],
    service_roles: Mapping[str, tuple[str, ...]],
) -> list[list[Row]]:
    """Warm up, then ``options.rounds`` rounds of the hello-worlds and ``requests`` by kind.

    Args:
        target: The stack: each request runs through its gateway and on the service's own port.
        options: The generator, duration, requests and rounds.
        concurrency: Requests in flight on every path.
        requests: What each kind sends.
        headers: Sent with every request to the stack (``Authorization``).
        service_roles: The roles (pid names) serving a request ``via`` the gateway or direct.

    Returns:
        Each round's rows: the hello-world alone and via its gateway, then every request via the
        gateway, then every request direct.
    """
    paths = {kind: request.path for kind, request in requests.items()}
    with hello_server() as server, behind_gateway(server) as fronted:
        sent = _sent((server.url, fronted.url), target, requests, headers)
        async with AsyncExitStack() as stack:
            endpoints = {
                key: await stack.enter_async_context(_open(*where, options, concurrency))
                for key, where in sent.items()
            }
            pids = {**target.pids, "hello": server.pid, "hello_gateway": fronted.pid}
            run = _Run(options, paths, service_roles, pids)
            await run.warm_up(endpoints)
            await run.rounds_of(endpoints)
    return run.rounds


async def rounds_report(
    spec: Spec,
    target: Target,
    options: Options,
    requests: Mapping[str, Request],
    token: str | None,
    found: Mapping[str, Any],
) -> SharesReport:
    """Run the interleaved rounds of ``requests`` with the admin's ``token``, and report them.

    Args:
        spec: The benchmark.
        target: The stack.
        options: The run's options.
        requests: What each kind sends.
        token: The admin's access token, sent with every request to the stack; None: a guest's
            requests, without ``Authorization``.
        found: What the set-up found, for the report's settings (JSON values).
    """
    concurrency = options.concurrency_or(spec.concurrency)
    auth = {"Authorization": f"Bearer {token}"} if token is not None else {}
    rounds = await interleaved_rounds(
        target, options, concurrency, requests, auth, spec.service_roles
    )
    facts = {
        "generator": options.generator,
        "concurrency": concurrency,
        "rounds": options.rounds,
        **found,
        **summarize(rounds, spec.labels, spec.goal),
    }
    heading = title(spec.heading, options, concurrency)
    settings = environment(target, options, concurrency, signed_in=token is not None)
    return SharesReport(spec.benchmark, heading, settings, [], facts, rounds, spec.goal)


def environment(
    target: Target, options: Options, concurrency: int, signed_in: bool = True
) -> dict[str, str]:
    """The settings lines of a report: machine, stack, URLs, generator, who asks (the admin's
    token when ``signed_in``, else a guest)."""
    return {
        **machine_info(),
        "stack": target.origin,
        "gateway": without_credentials(target.gateway_url),
        "direct": without_credentials(target.direct_url),
        "generator": options.generator,
        "client": describe(
            options.generator, concurrency, options.duration, options.requests_or(DEFAULT_REQUESTS)
        ),
        "token": (
            "one admin access token for every request (fetched once)"
            if signed_in
            else "none: a guest (no Authorization, no cookies)"
        ),
    }


def title(name: str, options: Options, concurrency: int) -> str:
    """A report's title: what was measured, how many in flight, how long, how many rounds."""
    timed = wrk.timed_run_label(
        options.generator, options.duration, options.requests_or(DEFAULT_REQUESTS)
    )
    return (
        f"{name}: {concurrency} in flight, {timed}, "
        f"median of {options.rounds} interleaved rounds"
    )


Measure = Callable[[Target, Options], Coroutine[Any, Any, Report]]


def run_on_stack(
    options: Options, measure: Measure, service: ServiceSpec, data_from: ServiceSpec | None = None
) -> Report:
    """Measure the stack the options name, or a private one booted for the run.

    Args:
        options: With ``--gateway-url`` and ``--direct-url``: a running stack; without: boot one.
        measure: The benchmark's measurement of a stack.
        service: The service measured directly (its port is the ``direct`` URL).
        data_from: The service whose demo data it reads, seeded into a private stack
            (``--products`` of them), when not ``service`` itself.

    Raises:
        ValueError: When only one of ``--gateway-url`` and ``--direct-url`` is given.
    """
    options = replace(options, generator=wrk.choose(options.generator))
    if options.gateway_url and options.direct_url:
        target = Target(options.gateway_url, options.direct_url, None, "external")
        return asyncio.run(measure(target, options))
    if options.gateway_url or options.direct_url:
        raise ValueError("--gateway-url and --direct-url name a running stack together")
    with private_stack(options.products, service, data_from) as target:
        return asyncio.run(measure(target, options))
