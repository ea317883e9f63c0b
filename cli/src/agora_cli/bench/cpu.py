"""The CPU time the serving processes spend during a timed run, read from ``/proc``.

A run's rate is the client's and the servers' together: they share the machine's CPUs. The CPU
time the serving processes used during the run, over its requests, is the servers' own cost per
request, whatever the client costs. Linux keeps it in ``/proc/<pid>/stat`` (``utime`` + ``stime``,
every thread of the process, in clock ticks of usually 10 ms: a run needs about a second of
server CPU for a 1% reading). Without ``/proc``, or for a process the benchmark does not know (a
stack given by URL), there is no reading, and the report shows ``-``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
UTIME_FIELD = 14  # 1-based field numbers of /proc/<pid>/stat in proc(5)
STIME_FIELD = 15
FIRST_FIELD_AFTER_COMM = 3
MICROSECONDS = 1e6


def clock_ticks() -> int:
    """Clock ticks per second, the unit of ``/proc/<pid>/stat`` times."""
    return os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, proc: Path = PROC) -> float | None:
    """User plus system CPU seconds process ``pid`` (all its threads) has used so far.

    Args:
        pid: The process.
        proc: Where ``<pid>/stat`` is read.

    Returns:
        The seconds, or None when the file cannot be read or parsed (no such process, no
        ``/proc``).
    """
    try:
        stat = (proc / str(pid) / "stat").read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return None
    # field 2, the command name, is in parentheses and may hold spaces and parentheses itself
    fields = stat[stat.rfind(")") + 1 :].split()
    try:
        ticks = int(fields[UTIME_FIELD - FIRST_FIELD_AFTER_COMM])
        ticks += int(fields[STIME_FIELD - FIRST_FIELD_AFTER_COMM])
    except (IndexError, ValueError):
        return None
    return ticks / clock_ticks()


@dataclass(frozen=True)
class CpuUsage:
    """CPU seconds each serving process used during a run, by its role (``catalog``, ...)."""

    seconds: Mapping[str, float]

    @property
    def total(self) -> float:
        """The CPU seconds of every process together."""
        return sum(self.seconds.values())

    def per_request_us(self, requests: int) -> dict[str, float]:
        """Microseconds of CPU per request, by role."""
        return {role: s * MICROSECONDS / max(requests, 1) for role, s in self.seconds.items()}


def add(usages: Sequence[CpuUsage | None]) -> CpuUsage | None:
    """Several runs' usage as one: seconds added by role (None if a run has none, or none ran)."""
    if not usages or any(usage is None for usage in usages):
        return None
    roles = {role for usage in usages if usage is not None for role in usage.seconds}
    return CpuUsage(
        {
            role: sum(usage.seconds.get(role, 0.0) for usage in usages if usage is not None)
            for role in sorted(roles)
        }
    )


def _read(pids: Mapping[str, int], proc: Path) -> dict[str, float] | None:
    seconds = {role: cpu_seconds(pid, proc) for role, pid in pids.items()}
    readings = {role: value for role, value in seconds.items() if value is not None}
    return readings if readings and len(readings) == len(seconds) else None


async def measure[T](
    pids: Mapping[str, int], load: Awaitable[T], proc: Path = PROC
) -> tuple[T, CpuUsage | None]:
    """Await ``load``, reading the CPU time the processes ``pids`` used meanwhile.

    Args:
        pids: The serving processes by role; empty when they are unknown.
        load: The timed run (not started yet: a coroutine runs when awaited).
        proc: Where the processes' ``stat`` files are read.

    Returns:
        What ``load`` returned, and the usage: None when ``pids`` is empty or a process could
        not be read before and after.
    """
    before = _read(pids, proc)
    result = await load
    after = _read(pids, proc) if before is not None else None
    if before is None or after is None:
        return result, None
    return result, CpuUsage({role: after[role] - before[role] for role in pids})
