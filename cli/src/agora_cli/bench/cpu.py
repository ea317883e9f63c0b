"""The CPU time the serving processes spend during a timed run.

A run's rate is the client's and the servers' together: they share the machine's CPUs. The CPU
time the serving processes used during the run, over its requests, is the servers' own cost per
request, whatever the client costs. ``psutil`` reads it (user + system, every thread; on Linux
from ``/proc/<pid>/stat``, in clock ticks of usually 10 ms: a run needs about a second of server
CPU for a 1% reading). For a process the benchmark does not know (a stack given by URL), or one it
cannot read, there is no reading, and the report shows ``-``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import psutil

MICROSECONDS = 1e6

Reader = Callable[[int], "float | None"]


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds process ``pid`` (all its threads) has used so far.

    Args:
        pid: The process.

    Returns:
        The seconds, or None when the process is gone or cannot be read.
    """
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)


def available() -> bool:
    """Whether this platform reports other processes' CPU time (Linux, macOS, Windows...)."""
    return cpu_seconds(psutil.Process().pid) is not None


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


def _read(pids: Mapping[str, int], reader: Reader) -> dict[str, float] | None:
    seconds = {role: reader(pid) for role, pid in pids.items()}
    readings = {role: value for role, value in seconds.items() if value is not None}
    return readings if readings and len(readings) == len(seconds) else None


async def measure[T](
    pids: Mapping[str, int], load: Awaitable[T], reader: Reader = cpu_seconds
) -> tuple[T, CpuUsage | None]:
    """Await ``load``, reading the CPU time the processes ``pids`` used meanwhile.

    Args:
        pids: The serving processes by role; empty when they are unknown.
        load: The timed run (not started yet: a coroutine runs when awaited).
        reader: Reads a process's CPU seconds (tests pass a scripted one).

    Returns:
        What ``load`` returned, and the usage: None when ``pids`` is empty or a process could
        not be read before and after.
    """
    before = _read(pids, reader)
    result = await load
    after = _read(pids, reader) if before is not None else None
    if before is None or after is None:
        return result, None
    return result, CpuUsage({role: after[role] - before[role] for role in pids})
