"""The servers a benchmark measures against, and the machine it runs on.

A URL given by option or environment names an existing server; without one, an embedded server
(the same wheels ``agora up`` and the test fixtures use) starts in a scratch directory on a free
port and is thrown away afterwards, so a benchmark also runs on a bare machine.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from agora_cli.infra.ports import free_port
from agora_cli.testdb import ASYNCPG_SCHEME, with_scheme
from agora_cli.ui import step, warn

SCRATCH_MODE = 0o755  # embedded servers run as nobody when the CLI runs as root
KIB_PER_GIB = 1024 * 1024


@dataclass(frozen=True)
class Server:
    """A server to measure against: its URL and whether the benchmark started it."""

    url: str
    embedded: bool

    @property
    def origin(self) -> str:
        """``embedded`` or ``external``, for the report."""
        return "embedded" if self.embedded else "external"


class _Embedded(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def progress(message: str) -> None:
    """Print a progress line on stderr (stdout carries only the results, e.g. ``--json``)."""
    warn(message)


def stage(label: str) -> AbstractContextManager[None]:
    """Print ``label ... ok (1.2s)`` on stderr around a slow block, ``FAILED`` when it raises."""
    return step(label, to_stderr=True)


@contextmanager
def _embedded(name: str, make: Callable[[Path], tuple[_Embedded, str]]) -> Iterator[Server]:
    scratch = Path(tempfile.mkdtemp(prefix="agora-bench-"))
    scratch.chmod(SCRATCH_MODE)
    server, url = make(scratch)
    try:
        with stage(f"starting embedded {name}"):
            server.start()
        yield Server(url, embedded=True)
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def postgres(url: str | None) -> Iterator[Server]:
    """The PostgreSQL at ``url`` (any ``postgresql`` scheme), else an embedded one, as asyncpg."""
    if url:
        yield Server(with_scheme(url, ASYNCPG_SCHEME), embedded=False)
        return
    from agora_cli.infra.postgres import EmbeddedPostgres

    def make(scratch: Path) -> tuple[_Embedded, str]:
        server = EmbeddedPostgres(scratch / "data", free_port(), scratch / "server.log")
        return server, server.superuser_url

    with _embedded("PostgreSQL", make) as server:
        yield server


@contextmanager
def nats(url: str | None) -> Iterator[Server]:
    """The broker at ``url`` (``nats://``, ``amqp://``, ``kafka://``), else an embedded NATS."""
    if url:
        yield Server(url, embedded=False)
        return
    from agora_cli.infra.nats import EmbeddedNats

    def make(scratch: Path) -> tuple[_Embedded, str]:
        port = free_port(count=2)
        server = EmbeddedNats(
            scratch / "data", port, port + 1, scratch / "server.log", scratch / "pid"
        )
        return server, server.url

    with _embedded("NATS JetStream", make) as server:
        yield server


def without_credentials(url: str) -> str:
    """``url`` without user and password, fit to print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def _proc_field(path: Path, field: str) -> str | None:
    """The value of the first ``field : value`` line of a ``/proc`` file, if any."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == field:
            return value.strip()
    return None


def machine_info(proc: Path = Path("/proc")) -> dict[str, str]:
    """Describe the machine: CPU model and count, memory, OS, Python, load at the start.

    Args:
        proc: Where ``cpuinfo`` and ``meminfo`` are read (other systems: fields fall back).

    Returns:
        Printable values by name.
    """
    model = _proc_field(proc / "cpuinfo", "model name") or platform.processor() or "unknown"
    memory_kib = (_proc_field(proc / "meminfo", "MemTotal") or "").removesuffix(" kB")
    memory = f"{int(memory_kib) / KIB_PER_GIB:.1f} GiB" if memory_kib.isdigit() else "unknown"
    return {
        "cpu": model,
        "cpus": str(os.cpu_count() or 0),
        "memory": memory,
        "system": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load": "{:.2f} {:.2f} {:.2f} (1, 5, 15 min)".format(*os.getloadavg()),
    }
