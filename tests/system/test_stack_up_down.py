"""System tests: ``agora up --detach``, ``status`` and ``down`` on a private stack.

Each test boots its own stack in a temporary data dir on free ports (never the defaults), so it
runs beside a developer's own ``agora up``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from agora_cli.infra.ports import free_port

PORT_VARIABLES = (
    "AGORA_GATEWAY_PORT",
    "AGORA_GATEWAY_ADMIN_PORT",
    "AGORA_POSTGRES_PORT",
    "AGORA_REDIS_PORT",
    "AGORA_NATS_PORT",
    "AGORA_NATS_MONITOR_PORT",
    "AGORA_SERVICE_PORT_BASE",
)
COMMAND_TIMEOUT_SECONDS = 180
# The installed console script, exactly what a developer runs (./agora ends in it too).
AGORA = [str(Path(sys.executable).parent / "agora")]

pytestmark = pytest.mark.system


@dataclass(frozen=True)
class AgoraRun:
    """How to call ``agora`` against one private stack."""

    data_dir: Path
    env: dict[str, str]

    def port(self, variable: str) -> int:
        """The port chosen for ``variable``."""
        return int(self.env[variable])

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``agora ARGS --data-dir <data_dir>`` and capture its output."""
        argv = [*AGORA, *args, "--data-dir", str(self.data_dir)]
        return subprocess.run(
            argv,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )


def stack_processes(data_dir: Path) -> list[psutil.Process]:
    """Every process belonging to the stack in ``data_dir``, descendants included."""
    roots: list[psutil.Process] = []
    pid_files = [*(data_dir / "run").glob("*.pid"), data_dir / "postgres" / "postmaster.pid"]
    for pid_file in pid_files:
        try:
            roots.append(psutil.Process(int(pid_file.read_text().split()[0])))
        except (OSError, ValueError, IndexError, psutil.Error):
            continue
    roots.extend(
        process
        for process in psutil.process_iter(["cmdline"])
        if str(data_dir) in " ".join(process.info["cmdline"] or [])
    )
    found: dict[int, psutil.Process] = {}
    for root in roots:
        try:
            for process in [root, *root.children(recursive=True)]:
                found[process.pid] = process
        except psutil.Error:
            continue
    return list(found.values())


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """The processes still running (zombies count as gone)."""
    result = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                result.append(process)
        except psutil.Error:
            continue
    return result


@pytest.fixture
def agora() -> Iterator[AgoraRun]:
    """An ``agora`` runner with its own data dir and free ports; ``down`` always runs at the end."""
    data_dir = Path(tempfile.mkdtemp(prefix="agora-system-", dir="/tmp"))
    data_dir.chmod(0o755)  # PostgreSQL runs as nobody under root and must reach its data dir
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env.update({variable: str(free_port()) for variable in PORT_VARIABLES})
    run = AgoraRun(data_dir, env)
    yield run
    run("down")
    shutil.rmtree(data_dir, ignore_errors=True)


def test_up_infra_only_status_down_leaves_no_process(agora: AgoraRun) -> None:
    up = agora("up", "--detach", "--infra-only")
    assert up.returncode == 0, up.stdout + up.stderr
    status = agora("status")
    processes = stack_processes(agora.data_dir)
    again = agora("up", "--detach", "--infra-only")
    gateway_ping = httpx.get(f"http://127.0.0.1:{agora.port('AGORA_GATEWAY_ADMIN_PORT')}/ping")

    down = agora("down")

    assert again.returncode == 0
    assert "already running" in again.stdout
    assert gateway_ping.status_code == 200
    for name in ("postgres", "redis", "nats", "gateway"):
        assert any(
            line.split()[:2] == [name, "up"] and line.split()[-1] == "ok"
            for line in status.stdout.splitlines()
        ), status.stdout
    assert len(processes) >= 5  # postmaster + its workers, valkey, nats, traefik
    assert down.returncode == 0
    assert "stopped: gateway, nats, redis, postgres" in down.stdout
    assert alive(processes) == []


def test_up_full_stack_serves_identity_through_gateway(agora: AgoraRun) -> None:
    up = agora("up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    processes = stack_processes(agora.data_dir)
    gateway = f"http://127.0.0.1:{agora.port('AGORA_GATEWAY_PORT')}"
    ready = httpx.get(f"{gateway}/identity/health/ready")
    jwks = httpx.get(f"{gateway}/.well-known/jwks.json")

    status = agora("status")
    down = agora("down")

    assert any(line.split()[:2] == ["identity", "up"] for line in status.stdout.splitlines())
    assert "admin@agora.local / Admin123!" in up.stdout
    assert ready.status_code == 200
    assert jwks.status_code == 200
    assert "keys" in jwks.json()
    assert "identity" in down.stdout
    assert alive(processes) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_up_foreground_signal_stops_everything(agora: AgoraRun, signum: signal.Signals) -> None:
    argv = [*AGORA, "up", "--infra-only"]
    foreground = subprocess.Popen(
        [*argv, "--data-dir", str(agora.data_dir)],
        env=agora.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert foreground.stdout is not None
    lines = []
    for line in foreground.stdout:
        lines.append(line)
        if line.startswith("attached"):
            break
    processes = stack_processes(agora.data_dir)

    foreground.send_signal(signum)
    rest, _ = foreground.communicate(timeout=COMMAND_TIMEOUT_SECONDS)

    assert any(line.startswith("attached") for line in lines), "".join(lines)
    assert foreground.returncode == 0
    assert "stopping postgres ... ok" in rest
    assert len(processes) >= 5
    assert alive(processes) == []


def test_up_port_taken_refuses_and_starts_nothing(agora: AgoraRun) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", agora.port("AGORA_REDIS_PORT")))
        squatter.listen()
        up = agora("up", "--detach", "--infra-only")

    assert up.returncode == 1
    assert f"redis: port {agora.port('AGORA_REDIS_PORT')} is already in use" in up.stderr
    assert alive(stack_processes(agora.data_dir)) == []
