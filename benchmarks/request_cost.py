"""The cost of one request inside a service process, without sockets: CPU time or instructions.

A service's app (or the bench's hello-world) is built in this process with the environment of the
running service (read from its pid), started (its lifespan), and called through ASGI with the
scope of a request as it arrives direct or through the gateway (Traefik's ``X-Forwarded-*``
headers), ``--requests`` times after ``--warmup`` untimed ones. It prints the CPU microseconds a
request (``time.process_time``; moves with what else the machine runs) or, under callgrind, lets
callgrind count the instructions of the timed requests only (deterministic to about 0.5%)::

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.%p \\
        .venv/bin/python benchmarks/request_cost.py catalog --pid PID \\
        --path /api/v1/products/ID --callgrind
    callgrind_annotate /tmp/cg.<pid> | head    # "PROGRAM TOTALS" over --requests

``--without`` switches layers off, one name at a time, to see what each costs (see LAYERS).
Messaging (the consumer loops and the outbox relay) is off unless ``--messaging``: in process it
would count the loops' own polling between requests. The gRPC server never starts here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import psutil

APPS = {
    "hello": "agora_cli.bench.http_load:hello_app",
    "catalog": "agora_catalog.main:create_app",
    "identity": "agora_identity.main:create_app",
}
GATEWAY_HEADERS = [
    (b"x-forwarded-for", b"127.0.0.1"),
    (b"x-forwarded-host", b"127.0.0.1:8080"),
    (b"x-forwarded-port", b"8080"),
    (b"x-forwarded-proto", b"http"),
    (b"x-forwarded-server", b"bench"),
    (b"x-real-ip", b"127.0.0.1"),
]


def _skip(*_args: Any, **_kwargs: Any) -> None:
    """A wiring step switched off."""


def _no_metrics() -> None:
    from agora_chassis import app as chassis

    chassis.install_metrics = _skip  # type: ignore[attr-defined]


def _no_trace_context() -> None:
    from agora_chassis import app as chassis
    from agora_chassis.telemetry import TraceContextMiddleware

    real = chassis._install_cross_cutting

    def without(app: Any, settings: Any) -> None:
        add = app.add_middleware

        def add_but_trace_context(cls: Any, *args: Any, **kwargs: Any) -> None:
            if cls is not TraceContextMiddleware:
                add(cls, *args, **kwargs)

        app.add_middleware = add_but_trace_context
        try:
            real(app, settings)
        finally:
            del app.add_middleware

    chassis._install_cross_cutting = without


def _no_api_budget() -> None:
    from agora_chassis import app as chassis

    chassis._install_api_budget = _skip


def _no_http_middleware() -> None:
    from agora_chassis import app as chassis

    chassis.install_http_middleware = _skip  # type: ignore[attr-defined]


LAYERS: dict[str, Callable[[], None]] = {
    "metrics": _no_metrics,
    "trace-context": _no_trace_context,
    "api-budget": _no_api_budget,
    "http-middleware": _no_http_middleware,  # request id, security headers, CORS, limits, gzip
}


def service_env(pid: int) -> dict[str, str]:
    """The ``AGORA_*`` environment of the running process ``pid``, gRPC and messaging left out."""
    env = {k: v for k, v in psutil.Process(pid).environ().items() if k.startswith("AGORA_")}
    env.pop("AGORA_GRPC_PORT", None)
    return env


def scope(path: str, via_gateway: bool, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """The ASGI scope of ``GET path`` as uvicorn builds it."""
    route, _, query = path.partition("?")
    sent = [(b"host", b"127.0.0.1:8103"), (b"accept-encoding", b"gzip"), *headers]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": sent + (GATEWAY_HEADERS if via_gateway else []),
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8103),
    }


async def call(app: Any, request: dict[str, Any], state: dict[str, Any]) -> int:
    """One request through the app; its status."""
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app({**request, "state": dict(state)}, receive, send)
    return status


async def lifespan(app: Any, state: dict[str, Any]) -> Callable[[], Any]:
    """Start the app's lifespan; return a coroutine function that ends it."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}, inbox.get, outbox.put)
    )
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"start-up failed: {started}")

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task

    return stop


def callgrind(on: bool) -> None:
    """Switch callgrind's instrumentation of this process on or off."""
    subprocess.run(  # noqa: S603 - fixed argv
        ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],  # noqa: S607
        check=True,
        capture_output=True,
    )


async def measure(args: argparse.Namespace) -> None:
    """Build, start, warm up and time the app; print the cost of a request."""
    from importlib import import_module

    module, _, factory = APPS[args.app].partition(":")
    app = getattr(import_module(module), factory)()
    state: dict[str, Any] = {}
    stop = await lifespan(app, state)
    headers = [
        (name, value) for name, _, value in (h.encode().partition(b": ") for h in args.header)
    ]
    request = scope(args.path, args.via_gateway, headers)
    statuses = {await call(app, request, state) for _ in range(args.warmup)}
    if args.callgrind:
        callgrind(True)
    started = time.process_time()
    for _ in range(args.requests):
        statuses.add(await call(app, request, state))
    used = time.process_time() - started
    if args.callgrind:
        callgrind(False)
    await stop()
    sys.stdout.write(
        f"{args.app} {args.path} via {'gateway' if args.via_gateway else 'direct'}"
        f" without {','.join(args.without) or '-'}: statuses {sorted(statuses)}, "
        f"{used / args.requests * 1e6:.0f} µs CPU a request over {args.requests}\n"
    )


def main() -> None:
    """Parse the arguments, prepare the environment and the layers, measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", choices=list(APPS))
    parser.add_argument("--pid", type=int, help="the running service whose environment to use")
    parser.add_argument("--path", default="/")
    parser.add_argument("--header", action="append", default=[], help="'name: value'")
    parser.add_argument("--via-gateway", action="store_true")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--without", action="append", default=[], choices=list(LAYERS))
    parser.add_argument("--messaging", action="store_true")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        help="NAME=VALUE over the service's environment, e.g. AGORA_LOCAL_CACHE_SECONDS=3600 so "
        "every read is a near-cache hit however slowly callgrind runs",
    )
    parser.add_argument("--callgrind", action="store_true")
    args = parser.parse_args()
    if args.pid:
        os.environ.update(service_env(args.pid))
    os.environ.update(dict(item.partition("=")[::2] for item in args.env))
    if not args.messaging:
        os.environ.pop("AGORA_BROKER_URL", None)
    for name in args.without:
        LAYERS[name]()
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
