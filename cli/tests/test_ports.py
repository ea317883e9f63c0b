"""Unit tests of the port helpers."""

from __future__ import annotations

import socket

import pytest

from agora_cli.infra import ports
from agora_cli.infra.ports import (
    PortInUseError,
    check_port_allowed,
    ensure_port_free,
    free_port,
    port_accepts,
    port_is_free,
    wait_until,
)


@pytest.mark.parametrize("port", [5432, 6379, 4222, 5672, 8222])
def test_check_port_allowed_standard_port_raises(port: int) -> None:
    with pytest.raises(ValueError, match="standard system-server port"):
        check_port_allowed("postgres", port)


@pytest.mark.parametrize("port", [80, 0, 70000])
def test_check_port_allowed_out_of_range_raises(port: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        check_port_allowed("gateway", port)


def test_check_port_allowed_embedded_default_passes() -> None:
    check_port_allowed("postgres", 15432)


def test_port_is_free_listening_socket_returns_false() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not port_is_free(port)
        assert port_accepts(port)
        with pytest.raises(PortInUseError, match=f"redis: port {port} is already in use"):
            ensure_port_free("redis", port)


def test_port_is_free_unused_port_returns_true() -> None:
    port = free_port()
    assert port_is_free(port)
    assert not port_accepts(port)


def test_wait_until_never_true_returns_false_after_timeout() -> None:
    assert wait_until(lambda: False, timeout=0.05, interval=0.01) is False


def test_wait_until_eventually_true_returns_true() -> None:
    calls: list[int] = []

    def third_time() -> bool:
        calls.append(1)
        return len(calls) >= 3

    assert wait_until(third_time, timeout=1.0, interval=0.001) is True
    assert len(calls) == 3


def test_free_port_block_is_free_and_below_ephemeral_range() -> None:
    first = free_port(count=3)
    assert first >= 20000
    assert first + 3 <= 32000
    assert all(port_is_free(port) for port in range(first, first + 3))


def test_free_port_skips_a_taken_port(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = free_port(count=2)
    monkeypatch.setattr(ports, "TEST_PORT_RANGE", (taken, taken + 2))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        assert {free_port() for _ in range(20)} == {taken + 1}


def test_free_port_no_free_block_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = free_port()
    monkeypatch.setattr(ports, "TEST_PORT_RANGE", (taken, taken + 1))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        with pytest.raises(PortInUseError):
            free_port()
