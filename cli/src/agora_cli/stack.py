"""The stack as an ordered list of components: start in order, stop in reverse."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

from agora_cli.config import StackConfig
from agora_cli.env import service_port
from agora_cli.infra.gateway import MAIL_UPSTREAM_RULE, Gateway, Upstream
from agora_cli.infra.gateway_errors import GatewayErrors
from agora_cli.infra.mailsink import EmbeddedMailSink
from agora_cli.infra.nats import EmbeddedNats
from agora_cli.infra.ports import port_is_free, wait_ports_released
from agora_cli.infra.postgres import EmbeddedPostgres
from agora_cli.infra.redis import EmbeddedRedis
from agora_cli.service_process import ServiceProcess
from agora_cli.services import SERVICES
from agora_cli.ui import step, warn

INFRA_NAMES = ("postgres", "redis", "nats", "mail", "gateway-errors", "gateway")
# Once a process has exited the kernel frees its listening sockets at once; longer means some
# other process (an escaped child) holds the port, and `down` says which.
PORT_RELEASE_TIMEOUT_SECONDS = 5.0


class Component(Protocol):
    """What the CLI needs of every supervised process."""

    name: str
    port: int

    @property
    def pid(self) -> int | None:
        """The pid when the process runs, else None."""

    def is_running(self) -> bool:
        """Tell whether the process is alive."""

    def healthy(self) -> bool:
        """Tell whether the process answers its health check."""

    def start(self) -> None:
        """Start the process and wait until it is ready."""

    def stop(self) -> None:
        """Stop the process and wait until it is gone."""


class StartError(RuntimeError):
    """A component failed to start; the message names it and carries its log tail."""


def build_components(config: StackConfig, *, with_services: bool = True) -> list[Component]:
    """The components of ``config`` in start order: infrastructure, services, then the gateway.

    The gateway comes last so that once it answers, everything it routes to is ready.

    Args:
        config: The stack configuration.
        with_services: Include the registered services (``--infra-only`` leaves them out).
    """
    # The mail sink's web view exists only in development: production routes no /mail at all.
    mail_web = config.profile == "development"
    data, ports = config.data_dir, config.ports
    postgres = EmbeddedPostgres(data / "postgres", ports.postgres, config.log_file("postgres"))
    infra = [postgres, *_servers(config, mail_web=mail_web)]
    services = [ServiceProcess(spec, config, postgres, dict(os.environ)) for spec in SERVICES]
    gateway = _gateway(config, mail_web=mail_web)
    return [*infra, *(services if with_services else []), gateway]


def _servers(config: StackConfig, *, mail_web: bool) -> list[Component]:
    """The servers besides PostgreSQL, in start order; the gateway's error pages last."""
    data, ports = config.data_dir, config.ports
    return [
        EmbeddedRedis(
            data / "redis", ports.redis, config.log_file("redis"), config.pid_file("redis")
        ),
        EmbeddedNats(
            data / "nats",
            ports.nats,
            ports.nats_monitor,
            config.log_file("nats"),
            config.pid_file("nats"),
        ),
        EmbeddedMailSink(
            data / "mail",
            ports.smtp,
            ports.mail_http,
            config.log_file("mail"),
            config.pid_file("mail"),
            web=mail_web,
        ),
        GatewayErrors(
            ports.gateway_errors,
            config.log_file("gateway-errors"),
            config.pid_file("gateway-errors"),
        ),
    ]


def _gateway(config: StackConfig, *, mail_web: bool) -> Gateway:
    """Traefik in front of every service, and of the mail sink's web view when it has one."""
    ports = config.ports
    upstreams = [Upstream(s.name, service_port(config, s), s.gateway_rule) for s in SERVICES]
    if mail_web:
        upstreams.append(
            Upstream("mail", ports.mail_http, MAIL_UPSTREAM_RULE, ops=False, public=False)
        )
    return Gateway(
        config.data_dir / "gateway",
        ports.gateway,
        ports.gateway_admin,
        config.log_dir,
        config.pid_file("gateway"),
        upstreams,
        errors_port=ports.gateway_errors,
    )


def component_ports(component: Component) -> list[int]:
    """Every port a component listens on (NATS, mail, the gateway and gRPC services have two)."""
    extra = next(
        (
            getattr(component, attribute)
            for attribute in ("monitor_port", "operator_port", "http_port", "grpc_port")
            if getattr(component, attribute, None)
        ),
        None,
    )
    return [component.port] + ([extra] if isinstance(extra, int) else [])


def port_conflicts(components: Sequence[Component]) -> list[str]:
    """Describe every port a stopped component needs that something else already holds."""
    return [
        f"{component.name}: port {port} is already in use by another process"
        for component in components
        if not component.is_running()
        for port in component_ports(component)
        if not port_is_free(port)
    ]


def start_components(components: Sequence[Component]) -> list[Component]:
    """Start ``components`` in order, printing progress; roll back on failure.

    Returns:
        The components this call started (those already running are left out).

    Raises:
        StartError: Naming the failed component, after stopping what this call started.
    """
    started: list[Component] = []
    try:
        for component in components:
            if component.is_running():
                continue
            with step(f"starting {component.name}"):
                component.start()
            started.append(component)
    except Exception as error:
        stop_components(started)
        raise StartError(f"{component.name} failed to start: {error}") from error
    except KeyboardInterrupt:
        stop_components(started)
        raise
    return started


def stop_components(components: Sequence[Component]) -> list[str]:
    """Stop the running ``components`` in reverse order, printing progress.

    A component counts as stopped once its processes have exited and its ports can be bound
    again. One that fails to stop is reported and skipped, so the others still get stopped.

    Returns:
        The names of the components that were running and are now stopped.
    """
    stopped = []
    for component in reversed(components):
        if not component.is_running():
            continue
        try:
            with step(f"stopping {component.name}"):
                component.stop()
                wait_ports_released(
                    component.name, component_ports(component), PORT_RELEASE_TIMEOUT_SECONDS
                )
        except Exception as error:  # noqa: BLE001 - keep stopping the rest, report this one
            warn(f"agora: {component.name} did not stop cleanly: {error}")
            continue
        stopped.append(component.name)
    return stopped


def find_component(components: Sequence[Component], name: str) -> Component | None:
    """Return the component called ``name`` (``postgresql`` and ``valkey`` are accepted too)."""
    aliases = {"postgresql": "postgres", "valkey": "redis", "traefik": "gateway"}
    wanted = aliases.get(name, name)
    return next((c for c in components if c.name == wanted), None)
