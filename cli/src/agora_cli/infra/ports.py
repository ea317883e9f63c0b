"""Port checks shared by every embedded component."""

from __future__ import annotations

import functools
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import psutil

LOOPBACK = "127.0.0.1"

# The well-known ports of system servers that may run on the same machine; the embedded stack must
# never take them, so that it can run beside a developer's own PostgreSQL, Redis, NATS or RabbitMQ.
RESERVED_PORTS: frozenset[int] = frozenset({4222, 5432, 5672, 6379, 8222})
# Where tests draw their ports: above the defaults of the embedded stack, below the ephemeral range.
TEST_PORT_RANGE = (20000, 32000)


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


class PortPool:
    """Hands out test ports from one range, never the same port twice, each checked free.

    Why: a test draws a port, releases it and something binds it later (``agora up`` boots a
    whole stack seconds after its ports were drawn). A bind probe alone cannot keep two draws in
    that gap apart: another pytest-xdist worker, or a later draw in the same process, could get
    the same port, and CI once failed with "basket gRPC: port ... is already in use". So every
    worker draws from its own slice of :data:`TEST_PORT_RANGE` (:func:`worker_port_range`), and
    this pool remembers each port it handed out. The bind probe still runs, for whatever holds
    a port outside the run (another run on the machine, a developer's server).

    The cursor starts at a random point and walks forward (wrapping), so that concurrent runs on
    one machine, whose slices coincide, rarely meet.
    """

    def __init__(self, low: int, high: int, start: int | None = None) -> None:
        """Draw from ``low`` (included) to ``high`` (excluded), from ``start`` (else random)."""
        self.low, self.high = low, high
        self._next = low + secrets.randbelow(high - low) if start is None else start
        self._handed_out: set[int] = set()
        self._lock = threading.Lock()

    def take(self, count: int = 1) -> int:
        """Reserve ``count`` consecutive ports, none handed out before, all free right now.

        Returns:
            The first port of the block.

        Raises:
            PortInUseError: The range holds no such block any more.
        """
        with self._lock:
            for _ in range(self.high - self.low):
                first = self._next if self._next + count <= self.high else self.low
                block = range(first, first + count)
                self._next = first + 1
                if self._handed_out.isdisjoint(block) and all(map(port_is_free, block)):
                    self._handed_out.update(block)
                    self._next = first + count
                    return first
        raise PortInUseError(f"no {count} consecutive free ports left in {self.low}-{self.high}")


def worker_port_range(environ: Mapping[str, str]) -> tuple[int, int]:
    """This process's slice of :data:`TEST_PORT_RANGE`, disjoint from every other xdist worker's.

    Worker ``gwN`` (``PYTEST_XDIST_WORKER``) gets slice N of ``PYTEST_XDIST_WORKER_COUNT`` equal
    slices; a process outside pytest-xdist has no sibling worker and gets the whole range.
    """
    low, high = TEST_PORT_RANGE
    worker = re.fullmatch(r"gw(\d+)", environ.get("PYTEST_XDIST_WORKER", ""))
    if worker is None:
        return low, high
    index = int(worker[1])
    count = environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    width = (high - low) // max(int(count) if count.isdigit() else 0, index + 1)
    return low + index * width, low + (index + 1) * width


@functools.cache
def _process_pool() -> PortPool:
    """The one pool of this process (a worker's environment is set before any test runs)."""
    return PortPool(*worker_port_range(os.environ))


def free_port(count: int = 1) -> int:
    """Return a free port (the first of ``count`` consecutive free ones), for tests.

    The block comes from this process's :class:`PortPool`: never handed out before in this
    process, never one another xdist worker can be given. Ports are drawn below Linux's
    ephemeral range (32768-60999): a port the kernel hands out there can be taken a moment later
    as the source port of any outgoing connection, or be held by its TIME_WAIT, which made
    stacks under test fail to bind now and then.

    Args:
        count: How many consecutive ports must be free (a stack's service ports follow a base).

    Returns:
        The first port of the block.

    Raises:
        PortInUseError: No free block was found.
    """
    return _process_pool().take(count)


def free_ports(counts: Sequence[int]) -> list[int]:
    """Draw one free block per entry of ``counts``, no two blocks sharing a port, for tests.

    Args:
        counts: The size of each block (1 for a single port).

    Returns:
        The first port of each block, in the order of ``counts``.
    """
    return [free_port(count) for count in counts]


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
