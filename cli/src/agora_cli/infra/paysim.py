"""The payment provider simulator (``agora_cli.paysim``) as a supervised stack component."""

from __future__ import annotations

import sys
from pathlib import Path

from agora_cli.infra.nats import http_ok
from agora_cli.infra.ports import LOOPBACK, ensure_port_free
from agora_cli.infra.process import PidFileTracked, spawn_and_await, stop_group

START_TIMEOUT_SECONDS = 15.0
HEALTH_PATH = "/health"


class PaySimError(RuntimeError):
    """The payment simulator could not be started."""


def paysim_argv(port: int, data_dir: Path, *, admin: bool = True) -> list[str]:
    """The command line running the simulator with this interpreter (``--no-admin`` unless
    ``admin``)."""
    return [
        sys.executable,
        "-m",
        "agora_cli.paysim",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *([] if admin else ["--no-admin"]),
    ]


class EmbeddedPaySim(PidFileTracked):
    """The card processor's API on ``port``, its ledger in ``data_dir``; ready when ``/health``
    answers 200. Its faults come from ``AGORA_PAYSIM_*`` in the environment of ``agora up``."""

    name = "paysim"

    def __init__(
        self, data_dir: Path, port: int, log_file: Path, pid_file: Path, *, admin: bool = True
    ) -> None:
        """Describe the simulator; nothing starts until :meth:`start`.

        ``admin=False`` (production profile) serves no ledger and no fault settings.
        """
        self.data_dir = data_dir.resolve()
        self.port = port
        self.log_file = log_file
        self.pid_file = pid_file
        self.admin = admin

    @property
    def url(self) -> str:
        """The base URL of the API (direct, not through the gateway)."""
        return f"http://{LOOPBACK}:{self.port}"

    def healthy(self) -> bool:
        """Tell whether ``/health`` answers 200."""
        return http_ok(f"{self.url}{HEALTH_PATH}")

    def start(self) -> None:
        """Start the simulator and wait until it is healthy.

        Raises:
            PaySimError: With the tail of the log when it does not come up.
        """
        if self.is_running():
            return
        ensure_port_free("paysim", self.port)
        failure = spawn_and_await(
            self.name,
            paysim_argv(self.port, self.data_dir, admin=self.admin),
            log_file=self.log_file,
            pid_file=self.pid_file,
            ready=self.healthy,
            running=self.is_running,
            stop=self.stop,
            timeout=START_TIMEOUT_SECONDS,
        )
        if failure:
            raise PaySimError(failure)

    def stop(self) -> None:
        """Stop the simulator (SIGTERM: uvicorn shuts down)."""
        stop_group(self.pid_file)
