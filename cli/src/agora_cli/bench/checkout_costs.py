"""What ``agora bench checkout`` reads besides the orders: the stack's counters and processes.

* **Database commits**: ``sum(xact_commit)`` of ``pg_stat_database`` over the services'
  databases, read as PostgreSQL's superuser on the maintenance database (so the reading itself
  is not counted). A backend reports its counts when it goes idle, at most once a second, and
  an idle one within 10 s (``PGSTAT_IDLE_INTERVAL``): the benchmark waits that long before a
  reading it relies on (:data:`STATS_SETTLE_SECONDS`).
* **Broker messages**: the JetStream streams' ``last_seq`` from the NATS monitor
  (``/jsz?streams=true&consumers=true``): every message ever stored, whatever the streams'
  retention has dropped since; and the consumers' pending and unacknowledged messages, which
  tell when every event of the run has been handled.
* **CPU**: user + system seconds of each process of the stack (:mod:`agora_cli.bench.cpu`);
  PostgreSQL's postmaster with its backends (the live ones, and the exited ones the postmaster
  has reaped), so one reading covers every connection.

A stack is read through its data directory (saved ports, pid files, the superuser's password
file): a private stack's, or for a running stack given by ``--gateway-url`` the one of
``$AGORA_DATA_DIR`` (else ``.agora``) when it serves that gateway; otherwise the
``AGORA_*_PORT`` variables name the simulator and the monitor, ``--database-url`` the database
(none: no commit counts), and the processes are not read (:func:`stack_access`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from agora_cli.services import SERVICES

if TYPE_CHECKING:
    import httpx

    from agora_cli.bench.stacks import Target
    from agora_cli.config import Ports

STATS_SETTLE_SECONDS = 11.0
INFRA_ROLES = ("paysim", "nats", "redis")
POSTGRES = "postgres"
DATABASES = tuple(spec.database for spec in SERVICES if spec.database)
COMMITS_SQL = "SELECT coalesce(sum(xact_commit), 0) FROM pg_stat_database WHERE datname = ANY($1)"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class StackAccess:
    """Where the benchmark reads the stack: the simulator, the NATS monitor, the database.

    Attributes:
        paysim_url: The payment simulator (``/v1/tokens``, ``/admin/faults``).
        monitor_url: The NATS monitor.
        database_url: PostgreSQL's superuser (``postgresql://``), None when unknown.
        pids: Every process of the stack by role, when known.
    """

    paysim_url: str
    monitor_url: str
    database_url: str | None = None
    pids: Mapping[str, int] = field(default_factory=dict)


def _ports_urls(ports: Ports) -> tuple[str, str]:
    return f"http://{LOOPBACK}:{ports.paysim}", f"http://{LOOPBACK}:{ports.nats_monitor}"


def stack_access(target: Target, database_url: str | None) -> StackAccess:
    """How to read the stack of ``target``: through its data directory when that is known.

    A private stack's data directory is known. For a running stack, ``$AGORA_DATA_DIR`` (else
    ``.agora``) is used when its saved configuration serves the gateway of ``target``; else the
    ``AGORA_*_PORT`` variables name the simulator and the NATS monitor, ``database_url`` the
    database (none: no commit counts), and the processes are not read.

    Args:
        target: The stack under measurement.
        database_url: ``--database-url``, for a running stack.
    """
    import os
    from urllib.parse import urlsplit

    from agora_cli.config import data_dir_from, load_config, ports_from_env

    data_dir = target.data_dir or data_dir_from(None, os.environ)
    config = load_config(data_dir)
    if config is None or config.ports.gateway != urlsplit(target.gateway_url).port:
        if target.data_dir is not None:
            from agora_cli.bench.stacks import BenchmarkError

            raise BenchmarkError(f"no saved stack configuration in {data_dir}")
        paysim, monitor = _ports_urls(ports_from_env(os.environ))
        return StackAccess(paysim, monitor, database_url)
    paysim, monitor = _ports_urls(config.ports)
    database = database_url or superuser_url(data_dir, config.ports)
    return StackAccess(paysim, monitor, database, processes(data_dir))


def superuser_url(data_dir: Path, ports: Ports) -> str:
    """The stack's PostgreSQL superuser on the maintenance database, as a ``postgresql://`` URL."""
    from agora_cli.infra.postgres import EmbeddedPostgres
    from agora_cli.testdb import with_scheme

    server = EmbeddedPostgres(data_dir / POSTGRES, ports.postgres, data_dir / "postgres.log")
    return with_scheme(server.superuser_url, "postgresql")


def processes(data_dir: Path) -> dict[str, int]:
    """The live processes of the stack in ``data_dir`` by role: every service, the gateway, the
    payment simulator, NATS, Valkey and PostgreSQL's postmaster."""
    from agora_cli.bench.stacks import stack_pids
    from agora_cli.config import StackConfig
    from agora_cli.infra.postgres import EmbeddedPostgres
    from agora_cli.infra.process import read_process

    first, *others = SERVICES
    pids = stack_pids(data_dir, first, others)
    config = StackConfig(data_dir=data_dir)
    for role in INFRA_ROLES:
        process = read_process(config.pid_file(role))
        if process is not None:
            pids[role] = process.pid
    postmaster = EmbeddedPostgres(data_dir / POSTGRES, 0, data_dir / "postgres.log").pid
    if postmaster is not None:
        pids[POSTGRES] = postmaster
    return pids


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds of process ``pid``, its live descendants and the children it has reaped.

    Returns:
        The seconds, or None when the process is gone or cannot be read.
    """
    try:
        process = psutil.Process(pid)
        times = process.cpu_times()
        descendants = process.children(recursive=True)
    except psutil.Error:
        return None
    total = times.user + times.system + times.children_user + times.children_system
    for child in descendants:
        try:
            child_times = child.cpu_times()
        except psutil.Error:  # exited meanwhile: the postmaster's children_* has it soon
            continue
        total += child_times.user + child_times.system
    return float(total)


async def commits(database_url: str, databases: tuple[str, ...] = DATABASES) -> int:
    """Transactions committed so far in ``databases``, as ``pg_stat_database`` reports them."""
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        value = await connection.fetchval(COMMITS_SQL, list(databases))
    finally:
        await connection.close()
    return int(value)


@dataclass(frozen=True)
class Streams:
    """The JetStream streams' state: messages stored so far by stream, consumers' backlog."""

    last_seq: Mapping[str, int]
    backlog: int

    @property
    def messages(self) -> int:
        """Messages stored so far over every stream."""
        return sum(self.last_seq.values())


def streams_of(jsz: Mapping[str, object]) -> Streams:
    """Read ``/jsz?streams=true&consumers=true``'s answer."""
    last_seq: dict[str, int] = {}
    backlog = 0
    accounts = jsz.get("account_details") or []
    for account in accounts if isinstance(accounts, list) else []:
        for stream in account.get("stream_detail") or []:
            last_seq[str(stream["name"])] = int(stream["state"]["last_seq"])
            for consumer in stream.get("consumer_detail") or []:
                backlog += int(consumer["num_pending"]) + int(consumer["num_ack_pending"])
    return Streams(last_seq, backlog)


async def streams(client: httpx.AsyncClient, monitor_url: str) -> Streams:
    """The streams' state from the NATS monitor at ``monitor_url``."""
    answer = await client.get(f"{monitor_url}/jsz", params={"streams": "true", "consumers": "true"})
    answer.raise_for_status()
    return streams_of(answer.json())
