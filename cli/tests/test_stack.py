"""Unit tests of stack ordering, rollback and lookup, with fake components."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agora_cli.config import Ports, StackConfig
from agora_cli.infra.forkserver import ForkServer
from agora_cli.infra.gateway import Gateway
from agora_cli.infra.mailsink import EmbeddedMailSink
from agora_cli.infra.paysim import EmbeddedPaySim
from agora_cli.infra.ports import free_port
from agora_cli.service_process import ServiceProcess
from agora_cli.stack import (
    Component,
    StartError,
    build_components,
    component_needs,
    component_ports,
    find_component,
    port_conflicts,
    start_components,
    stop_components,
)


@dataclass
class FakeComponent:
    """A component that records calls into a shared journal."""

    name: str
    journal: list[str]
    port: int = field(default_factory=free_port)
    running: bool = False
    fails: bool = False
    stop_fails: bool = False

    @property
    def pid(self) -> int | None:
        return 1 if self.running else None

    def is_running(self) -> bool:
        return self.running

    def healthy(self) -> bool:
        return self.running

    def start(self) -> None:
        self.journal.append(f"start {self.name}")
        if self.fails:
            raise RuntimeError("no luck")
        self.running = True

    def stop(self) -> None:
        self.journal.append(f"stop {self.name}")
        if self.stop_fails:
            raise RuntimeError("stuck")
        self.running = False


def test_build_components_order_is_infra_services_gateway(tmp_path: Path) -> None:
    names = [c.name for c in build_components(StackConfig(tmp_path))]
    assert names == [
        "postgres",
        "redis",
        "nats",
        "mail",
        "paysim",
        "gateway-errors",
        "forkserver",
        "identity",
        "notification",
        "catalog",
        "basket",
        "ordering",
        "payment",
        "storefront",
        "gateway",
    ]


def test_services_are_forked_unless_turned_off_or_the_socket_path_is_too_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forkservers(config: StackConfig) -> list[object]:
        services = [c for c in build_components(config) if isinstance(c, ServiceProcess)]
        return [service.forkserver for service in services]

    forked = forkservers(StackConfig(tmp_path))
    assert all(isinstance(server, ForkServer) for server in forked), forked
    assert len({id(server) for server in forked}) == 1, "one fork server for every service"
    assert forkservers(StackConfig(tmp_path / ("d" * 100))) == [None] * len(forked)
    monkeypatch.setenv("AGORA_FORK_SERVICES", "0")
    assert forkservers(StackConfig(tmp_path)) == [None] * len(forked)


def test_services_need_the_fork_server(tmp_path: Path) -> None:
    by_name = {c.name: c for c in build_components(StackConfig(tmp_path))}
    assert "forkserver" in component_needs(by_name["identity"])
    assert component_needs(by_name["forkserver"]) == ()
    assert component_ports(by_name["forkserver"]) == []


def test_build_components_infra_only_leaves_services_out(tmp_path: Path) -> None:
    names = [c.name for c in build_components(StackConfig(tmp_path), with_services=False)]
    assert names == ["postgres", "redis", "nats", "mail", "paysim", "gateway-errors", "gateway"]


def test_component_ports_lists_second_ports(tmp_path: Path) -> None:
    config = StackConfig(tmp_path, Ports(nats=41000, nats_monitor=41001))
    by_name = {c.name: c for c in build_components(config)}
    assert component_ports(by_name["nats"]) == [41000, 41001]
    assert component_ports(by_name["gateway"]) == [8080, 18080]
    assert component_ports(by_name["postgres"]) == [15432]
    assert component_ports(by_name["mail"]) == [11025, 18025]
    assert component_ports(by_name["gateway-errors"]) == [18081]
    assert component_ports(by_name["paysim"]) == [18090]


def test_build_components_production_routes_no_mail_and_starts_no_mail_web(
    tmp_path: Path,
) -> None:
    for profile, has_mail_web in (("development", True), ("production", False)):
        by_name = {c.name: c for c in build_components(StackConfig(tmp_path, profile=profile))}
        gateway, mail = by_name["gateway"], by_name["mail"]
        assert isinstance(gateway, Gateway)
        assert isinstance(mail, EmbeddedMailSink)
        assert ("mail" in {u.name for u in gateway.upstreams}) is has_mail_web
        assert mail.web is has_mail_web
        paysim = by_name["paysim"]
        assert isinstance(paysim, EmbeddedPaySim)
        assert paysim.admin is has_mail_web
        tokens = [u for u in gateway.upstreams if u.name == "paysim"]
        assert [(u.rule, u.public, u.ops) for u in tokens] == [
            ("Path(`/v1/tokens`)", True, False)
        ], "the browser tokenises through the public entrypoint, in both profiles"
        assert gateway.errors_port == 18081


def chain(*pairs: tuple[str, str]) -> Callable[[Component], Sequence[str]]:
    """Needs from ``(dependent, dependency)`` pairs."""
    return lambda component: [need for name, need in pairs if name == component.name]


def test_start_components_failure_stops_started_in_reverse() -> None:
    journal: list[str] = []
    first, second = FakeComponent("a", journal), FakeComponent("b", journal)
    broken = FakeComponent("c", journal, fails=True)
    with pytest.raises(StartError, match="c failed to start: no luck"):
        start_components([first, second, broken], needs=chain(("b", "a"), ("c", "b")))
    assert journal == ["start a", "start b", "start c", "stop b", "stop a"]
    assert not first.running
    assert not second.running


def test_start_components_skips_running_and_returns_started() -> None:
    journal: list[str] = []
    running = FakeComponent("a", journal, running=True)
    stopped = FakeComponent("b", journal)
    assert start_components([running, stopped], needs=chain(("b", "a"))) == [stopped]
    assert journal == ["start b"]


def test_stop_components_reverse_order_only_running() -> None:
    journal: list[str] = []
    components = [
        FakeComponent("a", journal, running=True),
        FakeComponent("b", journal),
        FakeComponent("c", journal, running=True),
    ]
    assert stop_components(components) == ["c", "a"]
    assert journal == ["stop c", "stop a"]


def test_port_conflicts_taken_port_of_stopped_component_is_reported() -> None:
    journal: list[str] = []
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        idle = FakeComponent("redis", journal, port=taken)
        running = FakeComponent("nats", journal, port=taken, running=True)
        assert port_conflicts([idle, running]) == [
            f"redis: port {taken} is already in use by another process"
        ]


def test_find_component_accepts_aliases(tmp_path: Path) -> None:
    components = build_components(StackConfig(tmp_path))
    assert find_component(components, "postgresql") is find_component(components, "postgres")
    assert find_component(components, "valkey") is find_component(components, "redis")
    assert find_component(components, "traefik") is find_component(components, "gateway")
    assert find_component(components, "kafka") is None


def test_stop_components_failure_keeps_stopping_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    journal: list[str] = []
    components = [
        FakeComponent("a", journal, running=True),
        FakeComponent("b", journal, running=True, stop_fails=True),
    ]
    assert stop_components(components) == ["a"]
    assert journal == ["stop b", "stop a"]
    assert "b did not stop cleanly: stuck" in capsys.readouterr().err


def test_stop_components_port_still_held_names_the_holder_and_is_not_stopped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    journal: list[str] = []
    with socket.socket() as escaped_child:  # the process stopped, yet something keeps its port
        escaped_child.bind(("127.0.0.1", 0))
        escaped_child.listen()
        port = escaped_child.getsockname()[1]
        component = FakeComponent("mail", journal, port=port, running=True)

        stopped = stop_components([component])

    assert stopped == []
    error = capsys.readouterr().err
    assert (
        f"mail did not stop cleanly: mail stopped but after 5s still: port {port} held by" in error
    )
    assert f"pid {os.getpid()} (" in error
