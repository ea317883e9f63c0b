"""Tests of detached process supervision (real child processes, no servers)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil

from agora_cli.infra.process import (
    StartOutcome,
    await_start,
    child_environment,
    read_process,
    spawn,
    start_failure,
    stop_group,
    tail,
)

# A parent that starts a grandchild and ignores SIGTERM, so only SIGKILL of the group ends it.
STUBBORN = (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)

# Says why it cannot start, then never becomes ready; on SIGTERM it writes a farewell and exits.
HOPELESS = (
    "import signal, sys, time\n"
    "print('cannot open the store: permission denied', flush=True)\n"
    "def bye(*_):\n"
    "    print('shutting down, bye', flush=True)\n"
    "    sys.exit(0)\n"
    "signal.signal(signal.SIGTERM, bye)\n"
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


def test_await_start_ready_once_counts_even_if_the_next_probe_fails() -> None:
    answers = iter([False, True, False, False])  # a busy machine: ready, then a probe times out

    outcome = await_start(lambda: next(answers), lambda: True, timeout=30)

    assert outcome is StartOutcome.READY


def test_await_start_exited_and_timed_out_are_told_apart() -> None:
    assert await_start(lambda: False, lambda: False, timeout=30) is StartOutcome.EXITED
    assert await_start(lambda: False, lambda: True, timeout=0) is StartOutcome.TIMED_OUT


def test_start_failure_shows_this_start_before_its_own_shutdown(tmp_path: Path) -> None:
    pid_file, log_file = tmp_path / "hopeless.pid", tmp_path / "hopeless.log"
    log_file.write_text("previous instance: Finished server process\n")
    since = log_file.stat().st_size
    spawn([sys.executable, "-c", HOPELESS], log_file=log_file, pid_file=pid_file)
    deadline = time.monotonic() + 10
    while "permission denied" not in tail(log_file) and time.monotonic() < deadline:
        time.sleep(0.05)

    message = start_failure(
        "store",
        StartOutcome.TIMED_OUT,
        log_file=log_file,
        since=since,
        stop=lambda: stop_group(pid_file),
        timeout=15,
    )

    assert message == (
        "store was not ready within 15s; its output:\n" "cannot open the store: permission denied"
    )
    assert "shutting down, bye" in tail(log_file)  # it did shut down, after the log was read
    assert read_process(pid_file) is None


def test_start_failure_ready_stops_nothing(tmp_path: Path) -> None:
    stopped: list[bool] = []
    message = start_failure(
        "x",
        StartOutcome.READY,
        log_file=tmp_path / "x.log",
        since=0,
        stop=lambda: stopped.append(True),
        timeout=1,
    )
    assert (message, stopped) == (None, [])


def test_start_failure_exited_without_output_says_so(tmp_path: Path) -> None:
    message = start_failure(
        "x", StartOutcome.EXITED, log_file=tmp_path / "x.log", since=0, stop=list, timeout=1
    )
    assert message == "x exited during start-up; its output:\n(it wrote nothing)"


def test_stack_processes_cache_their_bytecode_whatever_the_environment_says() -> None:
    # With PYTHONDONTWRITEBYTECODE, every service start compiled ~1,800 modules again (6 s CPU).
    env = child_environment({"PYTHONDONTWRITEBYTECODE": "1", "AGORA_X": "y"})
    assert env == {"AGORA_X": "y"}
