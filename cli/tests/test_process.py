"""Tests of detached process supervision (real child processes, no servers)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil

from agora_cli.infra.process import read_process, spawn, stop_group, tail

# A parent that starts a grandchild and ignores SIGTERM, so only SIGKILL of the group ends it.
STUBBORN = (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def test_spawn_writes_pid_file_and_log(tmp_path: Path) -> None:
    pid = spawn(
        [sys.executable, "-c", "print('hello from child')"],
        log_file=tmp_path / "logs" / "child.log",
        pid_file=tmp_path / "run" / "child.pid",
    )
    psutil.Process(pid).wait(5)
    assert (tmp_path / "run" / "child.pid").read_text().split()[0] == str(pid)
    assert tail(tmp_path / "logs" / "child.log") == "hello from child"


def test_stop_group_stubborn_group_is_killed_without_orphans(tmp_path: Path) -> None:
    pid_file, log_file = tmp_path / "stubborn.pid", tmp_path / "stubborn.log"
    spawn([sys.executable, "-c", STUBBORN], log_file=log_file, pid_file=pid_file)
    deadline = time.monotonic() + 10
    while "ready" not in tail(log_file) and time.monotonic() < deadline:
        time.sleep(0.05)
    leader = read_process(pid_file)
    assert leader is not None
    family = [leader, *leader.children(recursive=True)]
    assert len(family) == 2
    assert stop_group(pid_file, timeout=0.5) is True
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in family)
    assert not pid_file.exists()


def test_stop_group_nothing_running_returns_false(tmp_path: Path) -> None:
    pid_file = tmp_path / "gone.pid"
    pid_file.write_text("999999999 0\n")
    assert stop_group(pid_file) is False
    assert not pid_file.exists()


def test_read_process_recycled_pid_returns_none(tmp_path: Path) -> None:
    pid_file = tmp_path / "recycled.pid"
    # Our own pid with a creation time far in the past: a recycled pid must not count.
    pid_file.write_text(f"{psutil.Process().pid} 12345.0\n")
    assert read_process(pid_file) is None


def test_tail_since_offset_skips_earlier_runs(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("old run\n")
    offset = log.stat().st_size
    with log.open("a") as handle:
        handle.write("new run\n")
    assert tail(log, since=offset) == "new run"
