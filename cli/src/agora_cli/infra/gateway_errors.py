"""The gateway's error service (:mod:`agora_cli.gateway_errors`) as a supervised component.

It runs in every profile, development and production alike, because Traefik sends it every
unknown path and every "upstream down" answer; it starts before the gateway and stops after it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from agora_cli.infra.nats import http_ok
from agora_cli.infra.ports import LOOPBACK, ensure_port_free
from agora_cli.infra.process import (
    PidFileTracked,
    spawn_and_await,
    stop_group,
)

START_TIMEOUT_SECONDS = 15.0
APP = "agora_cli.gateway_errors:create_app"
# It answers in microseconds and holds no request open, so a short grace is plenty.
GRACEFUL_SHUTDOWN_SECONDS = 2


class GatewayErrorsError(RuntimeError):
    """The error service could not be started."""


def gateway_errors_argv(python: str, port: int) -> list[str]:
    """The command line running the error service on loopback ``port``."""
    return [
        *(python, "-m", "uvicorn", APP, "--factory"),
        *("--host", LOOPBACK, "--port", str(port), "--no-server-header", "--no-access-log"),
        *("--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_SECONDS)),
    ]


class GatewayErrors(PidFileTracked):
    """Uvicorn serving the gateway's Problem Details answers on a loopback port."""

    name = "gateway-errors"

    def __init__(self, port: int, log_file: Path, pid_file: Path) -> None:
        """Describe the service; nothing starts until :meth:`start`."""
        self.port = port
        self.log_file = log_file
        self.pid_file = pid_file

    @property
    def url(self) -> str:
        """Its base URL (Traefik's upstream; clients never call it directly)."""
        return f"http://{LOOPBACK}:{self.port}"

    def healthy(self) -> bool:
        """Tell whether ``/health`` answers 200."""
        return http_ok(f"{self.url}/health")

    def start(self) -> None:
        """Start the service and wait until it is healthy.

        Raises:
            GatewayErrorsError: With this start's output when it does not come up.
        """
        if self.is_running():
            return
        ensure_port_free(self.name, self.port)
        failure = spawn_and_await(
            self.name,
            gateway_errors_argv(sys.executable, self.port),
            log_file=self.log_file,
            pid_file=self.pid_file,
            ready=self.healthy,
            running=self.is_running,
            stop=self.stop,
            timeout=START_TIMEOUT_SECONDS,
        )
        if failure:
            raise GatewayErrorsError(failure)

    def stop(self) -> None:
        """Stop the service."""
        stop_group(self.pid_file)
