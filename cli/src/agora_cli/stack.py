"""The stack as a list of components: started in parallel as their needs are met, stopped in
reverse list order (which is also an order their needs allow)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol

from agora_cli.config import StackConfig
from agora_cli.env import service_port
from agora_cli.infra.forkserver import ForkServer
from agora_cli.infra.gateway import (
    MAIL_UPSTREAM_RULE,
    PAYSIM_UPSTREAM_RULE,
    Gateway,
    Upstream,
)
from agora_cli.infra.gateway_errors import GatewayErrors
from agora_cli.infra.mailsink import EmbeddedMailSink
from agora_cli.infra.nats import EmbeddedNats
from agora_cli.infra.paysim import EmbeddedPaySim
from agora_cli.infra.ports import port_is_free, wait_ports_released
from agora_cli.infra.postgres import EmbeddedPostgres
from agora_cli.infra.process import STARTS_CANCELLED
from agora_cli.infra.redis import EmbeddedRedis
from agora_cli.service_process import ServiceProcess
from agora_cli.services import SERVICES
from agora_cli.ui import say, step, warn
from agora_cli.usage import tree_cpu_seconds

SERVICE_NEEDS = ("postgres", "redis", "nats", "forkserver")
"""What every service needs running before it starts (its registry entry may add more)."""
FORK_SERVICES_VARIABLE = "AGORA_FORK_SERVICES"
"""``0`` starts each service as a new interpreter instead of forking it (ADR 0020)."""
# A Unix socket's path must fit in 108 bytes; a deeper data directory starts services unforked.
SOCKET_PATH_MAX = 100
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
    """The components of ``config``: infrastructure, services, then the gateway.

    The order is one their needs allow (:func:`component_needs`): ``stop_components`` stops them
    in reverse, the gateway first. Starting follows the needs, in parallel.

    Args:
        config: The stack configuration.
        with_services: Include the registered services (``--infra-only`` leaves them out).
    """
    # The mail sink's web view exists only in development: production routes no /mail at all.
    mail_web = config.profile == "development"
    data, ports = config.data_dir, config.ports
    postgres = EmbeddedPostgres(data / "postgres", ports.postgres, config.log_file("postgres"))
    infra = [postgres, *_servers(config, mail_web=mail_web)]
    forkserver = _forkserver(config) if with_services else None
    env = dict(os.environ)
    services = [ServiceProcess(spec, config, postgres, env, forkserver) for spec in SERVICES]
    gateway = _gateway(config, mail_web=mail_web)
    return [
        *infra,
        *([forkserver] if forkserver else []),
        *(services if with_services else []),
        gateway,
    ]


def _forkserver(config: StackConfig) -> ForkServer | None:
    """The parent the services are forked from, unless turned off or its socket path is too long."""
    socket_path = config.run_dir / "forkserver.sock"
    if os.environ.get(FORK_SERVICES_VARIABLE) == "0" or len(str(socket_path)) > SOCKET_PATH_MAX:
        return None
    return ForkServer(socket_path, config.log_file("forkserver"), config.pid_file("forkserver"))


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
        # Its ledger and fault settings are a development tool, like the mail sink's web view.
        EmbeddedPaySim(
            data / "paysim",
            ports.paysim,
            config.log_file("paysim"),
            config.pid_file("paysim"),
            admin=mail_web,
        ),
        GatewayErrors(
            ports.gateway_errors,
            config.log_file("gateway-errors"),
            config.pid_file("gateway-errors"),
        ),
    ]


def _gateway(config: StackConfig, *, mail_web: bool) -> Gateway:
    """Traefik in front of every service, of the payment simulator's tokenisation path (the
    browser sends card numbers there, never to a service), and of the mail sink's web view when it
    has one."""
    ports = config.ports
    upstreams = [
        Upstream(s.name, service_port(config, s), s.gateway_rule, priority=s.gateway_priority)
        for s in SERVICES
    ]
    upstreams.append(Upstream("paysim", ports.paysim, PAYSIM_UPSTREAM_RULE, ops=False))
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
    ports = [component.port] if component.port else []  # the fork server has a socket, no port
    return ports + ([extra] if isinstance(extra, int) else [])


def port_conflicts(components: Sequence[Component]) -> list[str]:
    """Describe every port a stopped component needs that something else already holds."""
    return [
        f"{component.name}: port {port} is already in use by another process"
        for component in components
        if not component.is_running()
        for port in component_ports(component)
        if not port_is_free(port)
    ]


def component_needs(component: Component) -> tuple[str, ...]:
    """The components that must be ready before ``component`` starts.

    PostgreSQL, Valkey, NATS, the mail sink, the payment simulator and the error pages need
    nothing. A service needs the
    first three, plus what its registry entry names (identity, for the JWKS its tokens are checked
    with: fetched at start-up, retried only 10 s later). The gateway needs only its error pages:
    it may answer before the services do, ``agora up`` reports ready once everything is.
    """
    if isinstance(component, ServiceProcess):
        return (*SERVICE_NEEDS, *component.spec.start_after)
    if isinstance(component, Gateway):
        return ("gateway-errors",)
    return ()


def start_components(
    components: Sequence[Component],
    needs: Callable[[Component], Sequence[str]] = component_needs,
) -> list[Component]:
    """Start ``components`` in parallel, each once what it ``needs`` is ready; print progress.

    A need that is not among ``components`` is taken as met (a running stack's, or left out).
    When one fails, or on Ctrl-C, the waits still under way are called off
    (:data:`STARTS_CANCELLED`) and everything this call started is stopped again.

    Returns:
        The components this call started (those already running are left out), in the order
        they became ready.

    Raises:
        StartError: Naming the failed component (with its log tail), after the rollback.
        KeyboardInterrupt: After the rollback.
    """
    names = {component.name for component in components}
    waiting = {
        c.name: (c, {n for n in needs(c) if n in names}) for c in components if not c.is_running()
    }
    run = _ParallelStart(time.monotonic(), ready={c.name for c in components} - set(waiting))
    STARTS_CANCELLED.clear()
    with ThreadPoolExecutor(max_workers=max(len(waiting), 1)) as pool:
        try:
            run.drive(pool, waiting)
        except BaseException:
            STARTS_CANCELLED.set()
            try:
                run.finish_in_flight()
            finally:  # every wait has given up: later starts in this process must not
                STARTS_CANCELLED.clear()
            # In reverse list order, as `down` does: dependents before what they need.
            started = {id(component) for component in run.started}
            stop_components([c for c in components if id(c) in started])
            raise
    say(f"all {len(components)} components ready in {time.monotonic() - run.began:.1f} s")
    return run.started


@dataclass
class _ParallelStart:
    """The state of one :func:`start_components` call."""

    began: float
    ready: set[str]
    started: list[Component] = field(default_factory=list)
    in_flight: dict[Future[float], Component] = field(default_factory=dict)

    def drive(
        self, pool: ThreadPoolExecutor, waiting: dict[str, tuple[Component, set[str]]]
    ) -> None:
        """Launch what can start, collect what finished, until nothing waits or runs."""
        while waiting or self.in_flight:
            launch = [c for c, deps in waiting.values() if deps <= self.ready]
            if launch:
                say("starting " + ", ".join(c.name for c in launch))
            for component in launch:
                del waiting[component.name]
                self.in_flight[pool.submit(_timed_start, component)] = component
            if not self.in_flight:  # only reachable through a dependency cycle
                raise StartError(f"cannot order the start of: {', '.join(sorted(waiting))}")
            done, _ = wait(self.in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                self._collect(future, self.in_flight.pop(future))

    def _collect(self, future: Future[float], component: Component) -> None:
        try:
            seconds = future.result()
        except Exception as error:
            raise StartError(f"{component.name} failed to start: {error}") from error
        self.started.append(component)
        self.ready.add(component.name)
        say(f"{component.name} ready in {seconds:.1f} s{_cpu_note(component)}")

    def finish_in_flight(self) -> None:
        """Wait for the starts under way (they give up at their next poll); keep their results."""
        for future, component in self.in_flight.items():
            with contextlib.suppress(Exception):
                future.result()
                self.started.append(component)
        self.in_flight.clear()


def _timed_start(component: Component) -> float:
    """Start ``component``; return how long it took, in seconds."""
    began = time.monotonic()
    component.start()
    return time.monotonic() - began


def _cpu_note(component: Component) -> str:
    """`` (cpu 1.2 s)``: what its processes used to get ready, a measure that survives load."""
    seconds = tree_cpu_seconds(component.pid)
    return "" if seconds is None else f" (cpu {seconds:.1f} s)"


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
