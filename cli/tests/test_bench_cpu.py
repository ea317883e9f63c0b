"""The CPU time of the serving processes, read from ``/proc/<pid>/stat`` (a fake one mostly)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agora_cli.bench.cpu import PROC, CpuUsage, add, clock_ticks, cpu_seconds, measure

# pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
STAT = "{pid} (odd) name (x)) S 1 {pid} {pid} 0 -1 4194560 100 0 0 0 {utime} {stime} 7 9 20 0 3"


def write_stat(proc: Path, pid: int, utime: int, stime: int) -> None:
    (proc / str(pid)).mkdir(parents=True, exist_ok=True)
    (proc / str(pid) / "stat").write_text(STAT.format(pid=pid, utime=utime, stime=stime) + "\n")


def test_user_and_system_ticks_are_added_in_seconds(tmp_path: Path) -> None:
    write_stat(tmp_path, 42, utime=300, stime=150)
    assert cpu_seconds(42, tmp_path) == pytest.approx(450 / clock_ticks())


def test_no_process_or_an_unreadable_stat_gives_no_reading(tmp_path: Path) -> None:
    assert cpu_seconds(42, tmp_path) is None
    (tmp_path / "43").mkdir()
    (tmp_path / "43" / "stat").write_text("43 (short) S 1 2 3\n")
    assert cpu_seconds(43, tmp_path) is None
    (tmp_path / "43" / "stat").write_text(STAT.format(pid=43, utime="x", stime=1))
    assert cpu_seconds(43, tmp_path) is None


@pytest.mark.skipif(not PROC.is_dir(), reason="no /proc")
def test_this_process_has_used_cpu() -> None:
    before = cpu_seconds(os.getpid())
    sum(n * n for n in range(2_000_000))
    after = cpu_seconds(os.getpid())
    assert before is not None
    assert after is not None
    assert after > before


async def test_measure_reads_the_processes_before_and_after_the_load(tmp_path: Path) -> None:
    write_stat(tmp_path, 10, utime=100, stime=100)
    write_stat(tmp_path, 20, utime=0, stime=0)

    async def load() -> str:
        write_stat(tmp_path, 10, utime=100 + clock_ticks(), stime=100 + clock_ticks())
        write_stat(tmp_path, 20, utime=clock_ticks() // 2, stime=0)
        return "done"

    result, usage = await measure({"catalog": 10, "gateway": 20}, load(), tmp_path)
    assert result == "done"
    assert usage is not None
    assert usage.seconds == {"catalog": pytest.approx(2.0), "gateway": pytest.approx(0.5)}
    assert usage.total == pytest.approx(2.5)
    assert usage.per_request_us(1000) == {
        "catalog": pytest.approx(2000.0),
        "gateway": pytest.approx(500.0),
    }


async def test_unknown_or_vanished_processes_give_no_usage(tmp_path: Path) -> None:
    async def load() -> int:
        return 7

    assert await measure({}, load(), tmp_path) == (7, None)
    write_stat(tmp_path, 10, utime=1, stime=1)
    assert await measure({"catalog": 10, "gateway": 99}, load(), tmp_path) == (7, None)

    async def exits() -> int:
        (tmp_path / "10" / "stat").unlink()
        return 8

    assert await measure({"catalog": 10}, exits(), tmp_path) == (8, None)


def test_usages_add_up_by_role_and_none_spoils_the_sum() -> None:
    first = CpuUsage({"catalog": 1.0, "gateway": 0.5})
    second = CpuUsage({"catalog": 2.0, "gateway": 0.25})
    assert add([first, second]) == CpuUsage({"catalog": 3.0, "gateway": 0.75})
    assert add([first, None]) is None
    assert add([]) is None
