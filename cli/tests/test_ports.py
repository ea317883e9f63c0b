"""Unit tests of the port helpers."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys

import pytest

from agora_cli.config import BLOCK_PORT_VARIABLES, PORT_VARIABLES
from agora_cli.infra import ports
from agora_cli.infra.ports import (
    PortInUseError,
    check_port_allowed,
    ensure_port_free,
    free_port,
    free_ports,
    port_accepts,
    port_is_free,
    wait_until,
)
from agora_cli.services import SERVICES
from agora_testing.fixtures import stack_port_env


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


def test_free_port_never_hands_out_a_port_twice_in_a_process() -> None:
    blocks = [free_port(count=4) for _ in range(100)] + [free_port() for _ in range(200)]
    handed = [port for first in blocks[:100] for port in range(first, first + 4)] + blocks[100:]
    assert len(handed) == len(set(handed))


def test_free_ports_blocks_never_overlap() -> None:
    counts = [4, 1, 4, 1, 1]
    firsts = free_ports(counts)
    handed = [p for f, n in zip(firsts, counts, strict=True) for p in range(f, f + n)]
    assert len(handed) == len(set(handed)) == sum(counts)


def test_pool_hands_out_each_block_once_then_raises() -> None:
    first = free_port(count=8)
    pool = ports.PortPool(first, first + 8, start=first + 2)
    blocks = {pool.take(count=2) for _ in range(4)}
    assert sorted(blocks) == [first, first + 2, first + 4, first + 6]
    with pytest.raises(PortInUseError, match="no 1 consecutive free ports left"):
        pool.take()


def test_pool_skips_a_port_in_use() -> None:
    first = free_port(count=2)
    pool = ports.PortPool(first, first + 2, start=first)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first))
        squatter.listen()
        assert pool.take() == first + 1
        with pytest.raises(PortInUseError):
            pool.take()


def test_pool_skips_a_block_with_a_port_in_use_anywhere_in_it() -> None:
    first = free_port(count=5)
    pool = ports.PortPool(first, first + 5, start=first)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first + 1))
        squatter.listen()
        assert pool.take(count=3) == first + 2
        with pytest.raises(PortInUseError):
            pool.take(count=2)


def test_pool_wraps_to_the_start_of_its_range() -> None:
    first = free_port(count=4)
    pool = ports.PortPool(first, first + 4, start=first + 3)
    assert pool.take(count=2) == first


def _worker(index: int, count: int) -> dict[str, str]:
    return {"PYTEST_XDIST_WORKER": f"gw{index}", "PYTEST_XDIST_WORKER_COUNT": str(count)}


@pytest.mark.parametrize("workers", [1, 2, 3, 8, 64])
def test_worker_port_ranges_are_disjoint_and_inside_the_test_range(workers: int) -> None:
    ranges = [ports.worker_port_range(_worker(index, workers)) for index in range(workers)]
    low, high = ports.TEST_PORT_RANGE
    spans = [range(*bounds) for bounds in sorted(ranges)]
    assert all(len(span) >= 100 for span in spans)
    assert all(low <= span.start and span.stop <= high for span in spans)
    assert all(a.stop <= b.start for a, b in itertools.pairwise(spans))


def test_worker_port_range_without_a_worker_count_still_fits_the_worker() -> None:
    low, high = ports.worker_port_range({"PYTEST_XDIST_WORKER": "gw3"})
    assert ports.TEST_PORT_RANGE[0] <= low < high <= ports.TEST_PORT_RANGE[1]


def test_worker_port_range_outside_xdist_is_the_whole_test_range() -> None:
    assert ports.worker_port_range({}) == ports.TEST_PORT_RANGE


_DRAW = "from agora_cli.infra.ports import free_port; print(*(free_port(4) for _ in range(60)))"


def test_two_xdist_workers_never_draw_overlapping_blocks() -> None:
    """Each worker is its own process: only disjoint ranges keep their draws apart."""
    drawn: list[set[int]] = []
    for index in range(2):
        env = os.environ | _worker(index, 2)
        out = subprocess.run(
            [sys.executable, "-c", _DRAW], env=env, capture_output=True, text=True, check=True
        ).stdout
        low, high = ports.worker_port_range(env)
        firsts = [int(word) for word in out.split()]
        assert all(low <= first and first + 4 <= high for first in firsts)
        drawn.append({port for first in firsts for port in range(first, first + 4)})
    assert not drawn[0] & drawn[1]


def test_stack_port_env_blocks_cover_every_service_offset() -> None:
    assert max(spec.port_offset for spec in SERVICES) < len(SERVICES)
    env = stack_port_env(len(SERVICES))
    assert set(env) == set(PORT_VARIABLES)
    ports_used = [
        int(port) + offset
        for name, port in env.items()
        for offset in (range(len(SERVICES)) if name in BLOCK_PORT_VARIABLES else [0])
    ]
    assert len(ports_used) == len(set(ports_used))
    assert all(port_is_free(port) for port in ports_used)
