"""The CPU time of the serving processes: psutil's reading, and runs measured with a script."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from agora_cli.bench.cpu import CpuUsage, add, available, cpu_seconds, measure


def test_this_process_has_used_cpu() -> None:
    before = cpu_seconds(os.getpid())
    sum(n * n for n in range(2_000_000))
    after = cpu_seconds(os.getpid())
    assert before is not None
    assert after is not None
    assert after > before
    assert available()


def test_a_process_that_is_gone_gives_no_reading() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert cpu_seconds(child.pid) is None


class Script:
    """A reader answering each pid's readings in turn."""

    def __init__(self, readings: dict[int, list[float | None]]) -> None:
        self.readings = {pid: list(values) for pid, values in readings.items()}

    def __call__(self, pid: int) -> float | None:
        values = self.readings.get(pid)
        return values.pop(0) if values else None


async def test_measure_reads_the_processes_before_and_after_the_load() -> None:
    reader = Script({10: [2.0, 4.0], 20: [0.0, 0.5]})

    async def load() -> str:
        return "done"

    result, usage = await measure({"catalog": 10, "gateway": 20}, load(), reader)
    assert result == "done"
    assert usage is not None
    assert usage.seconds == {"catalog": pytest.approx(2.0), "gateway": pytest.approx(0.5)}
    assert usage.total == pytest.approx(2.5)
    assert usage.per_request_us(1000) == {
        "catalog": pytest.approx(2000.0),
        "gateway": pytest.approx(500.0),
    }


async def test_unknown_or_vanished_processes_give_no_usage() -> None:
    async def load() -> int:
        return 7

    assert await measure({}, load(), Script({})) == (7, None)
    assert await measure({"catalog": 10, "gateway": 99}, load(), Script({10: [1.0, 2.0]})) == (
        7,
        None,
    )
    assert await measure({"catalog": 10}, load(), Script({10: [1.0]})) == (7, None)


def test_usages_add_up_by_role_and_none_spoils_the_sum() -> None:
    first = CpuUsage({"catalog": 1.0, "gateway": 0.5})
    second = CpuUsage({"catalog": 2.0, "gateway": 0.25})
    assert add([first, second]) == CpuUsage({"catalog": 3.0, "gateway": 0.75})
    assert add([first, None]) is None
    assert add([]) is None
