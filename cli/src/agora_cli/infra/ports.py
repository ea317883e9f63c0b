"""Port checks shared by every embedded component."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Callable, Sequence

import psutil

LOOPBACK = "127.0.0.1"

# The well-known ports of system servers that may run on the same machine; the embedded stack must
# never take them, so that it can run beside a developer's own PostgreSQL, Redis, NATS or RabbitMQ.
RESERVED_PORTS: frozenset[int] = frozenset({4222, 5432, 5672, 6379, 8222})
# Where tests draw their ports: above the defaults of the embedded stack, below the ephemeral range.
TEST_PORT_RANGE = (20000, 32000)
FREE_PORT_TRIES = 200


class PortInUseError(RuntimeError):
    """A port the stack needs is already taken by some other process."""


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Tell whether nothing listens on ``host:port``.

    Binding is the reliable test: connecting can miss a server bound to another address, while a
    bind on loopback fails when anything (including a 0.0.0.0 listener) holds the port.
    SO_REUSEADDR, as every server sets it, keeps TIME_WAIT leftovers of a stopped server from
    counting as "in use"; on Linux it still fails against a listening socket.

    Args:
        port: TCP port to test.
        host: Address to bind.

    Returns:
        True when the port can be bound right now.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def port_accepts(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Tell whether a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(count: int = 1) -> int:
    """Return a free port (the first of ``count`` consecutive free ones), for tests.

    Ports are drawn below Linux's ephemeral range (32768-60999): a port the kernel hands out
    there can be taken a moment later as the source port of any outgoing connection, or be held
    by its TIME_WAIT, which made stacks under test fail to bind now and then.

    Args:
        count: How many consecutive ports must be free (a stack's service ports follow a base).

    Returns:
        The first port of the block.

    Raises:
        PortInUseError: No free block was found.
    """
    low, high = TEST_PORT_RANGE
    for _ in range(FREE_PORT_TRIES):
        first = low + secrets.randbelow(high - low - count + 1)
        if all(port_is_free(port) for port in range(first, first + count)):
            return first
    raise PortInUseError(f"no {count} consecutive free ports in {low}-{high}")


def free_ports(counts: Sequence[int]) -> list[int]:
    """Draw one free block per entry of ``counts``, no two blocks sharing a port, for tests.

    Independent :func:`free_port` calls can return the same port (nothing holds it in between);
    a stack needs every one of its ports distinct.

    Args:
        counts: The size of each block (1 for a single port).

    Returns:
        The first port of each block, in the order of ``counts``.
    """
    taken: set[int] = set()
    firsts: list[int] = []
    for count in counts:
        for _ in range(FREE_PORT_TRIES):
            first = free_port(count)
            block = set(range(first, first + count))
            if not block & taken:
                break
        else:
            raise PortInUseError(f"no {count} free ports apart from {sorted(taken)}")
        taken |= block
        firsts.append(first)
    return firsts


def check_port_allowed(name: str, port: int) -> None:
    """Refuse ports that are out of range or belong to the standard system servers.

    Raises:
        ValueError: With a message naming the component and the port.
    """
    if not 1024 <= port <= 65535:  # noqa: PLR2004 - unprivileged TCP range
        raise ValueError(f"{name}: port {port} is outside 1024-65535")
    if port in RESERVED_PORTS:
        raise ValueError(
            f"{name}: port {port} is a standard system-server port; the embedded stack avoids it"
        )


def ensure_port_free(name: str, port: int) -> None:
    """Raise :class:`PortInUseError` with a clear message when ``port`` is taken."""
    if not port_is_free(port):
        raise PortInUseError(f"{name}: port {port} is already in use by another process")


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds pass.

    Args:
        predicate: A callable returning a truthy value when the wait is over.
        timeout: Seconds to wait at most.
        interval: Seconds between polls.

    Returns:
        True if the predicate became true in time.
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def port_holders(port: int) -> list[str]:
    """Who listens on ``port``: ``pid 123 (name)`` per process, or a note when it cannot be told.

    Listing other users' sockets needs privileges; without them the answer says so rather than
    guessing.
    """
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return ["(not allowed to list the owners of sockets)"]
    holders = set()
    for connection in connections:
        if connection.laddr and connection.laddr.port == port and connection.status == "LISTEN":
            holders.add(connection.pid)
    return [_describe_pid(pid) for pid in sorted(holders, key=lambda pid: pid or 0)] or [
        "(an unknown process)"
    ]


def _describe_pid(pid: int | None) -> str:
    if pid is None:
        return "(a process of another user)"
    try:
        return f"pid {pid} ({psutil.Process(pid).name()})"
    except psutil.Error:
        return f"pid {pid}"


def wait_ports_released(name: str, ports: Sequence[int], timeout: float) -> None:
    """Wait until every one of ``ports`` can be bound again, at most ``timeout`` seconds.

    Raises:
        PortInUseError: Naming each port still taken and the process holding it.
    """
    if wait_until(lambda: all(port_is_free(port) for port in ports), timeout):
        return
    held = [
        f"port {port} held by {', '.join(port_holders(port))}"
        for port in ports
        if not port_is_free(port)
    ]
    raise PortInUseError(f"{name} stopped but after {timeout:.0f}s still: {'; '.join(held)}")
