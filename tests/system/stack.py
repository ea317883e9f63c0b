"""Helpers to drive a private ``agora`` stack from a test and to find its processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from agora_cli.services import SERVICES
from agora_testing.fixtures import stack_port_env

COMMAND_TIMEOUT_SECONDS = 180
# The installed console script, exactly what a developer runs (./agora ends in it too).
AGORA = [str(Path(sys.executable).parent / "agora")]


@dataclass(frozen=True)
class AgoraRun:
    """How to call ``agora`` against one private stack."""

    data_dir: Path
    env: dict[str, str]

    def port(self, variable: str) -> int:
        """The port chosen for ``variable``."""
        return int(self.env[variable])

    @property
    def gateway_url(self) -> str:
        """The gateway's public entrypoint."""
        return f"http://127.0.0.1:{self.port('AGORA_GATEWAY_PORT')}"

    @property
    def operator_url(self) -> str:
        """The gateway's loopback operator entrypoint (health, metrics, admin prefixes, /mail)."""
        return f"http://127.0.0.1:{self.port('AGORA_GATEWAY_ADMIN_PORT')}"

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


@contextmanager
def private_stack(extra_env: Mapping[str, str] | None = None) -> Iterator[AgoraRun]:
    """An ``agora`` runner with its own data dir and free ports; ``down`` always runs at the end.

    Args:
        extra_env: Settings for this stack's services (``AGORA_RATE_LIMIT``...).
    """
    data_dir = Path(tempfile.mkdtemp(prefix="agora-system-", dir="/tmp"))
    data_dir.chmod(0o755)  # PostgreSQL runs as nobody under root and must reach its data dir
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    # Every service listens on base + its offset: the whole block must be free.
    env.update(stack_port_env(len(SERVICES)))
    env.update(extra_env or {})
    run = AgoraRun(data_dir, env)
    try:
        yield run
    finally:
        run("down")
        shutil.rmtree(data_dir, ignore_errors=True)


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
