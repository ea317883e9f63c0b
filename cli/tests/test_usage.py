"""Memory and CPU of real process trees, and the memory column of ``agora status``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from agora_cli.summary import status_table
from agora_cli.usage import pss_bytes, tree_cpu_seconds, tree_memory

# A parent holding ~40 MiB and a child holding ~40 MiB more, both touching their pages.
PARENT = """
import subprocess, sys, time
ballast = bytearray(40 * 2**20)
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
print(child.pid, flush=True)
time.sleep(60)
"""
CHILD = "import time; ballast = bytearray(40 * 2**20); print('ready', flush=True); time.sleep(60)"
MIB = 2**20


@pytest.fixture
def tree() -> Iterator[tuple[int, int]]:
    """A running parent and child; their pids."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert parent.stdout.readline().strip() == "ready", "the child did not start"
    yield parent.pid, child_pid
    parent.kill()
    parent.wait()
    subprocess.run(["kill", "-9", str(child_pid)], check=False)


@dataclass
class Running:
    """A component whose pid is a real process."""

    name: str
    pid: int | None
    port: int = 0

    def is_running(self) -> bool:
        return self.pid is not None

    def healthy(self) -> bool:
        return True

    def start(self) -> None:
        """Not needed."""

    def stop(self) -> None:
        """Not needed."""


def test_tree_memory_sums_the_children_and_is_a_pss(tree: tuple[int, int]) -> None:
    parent, child = tree
    parent_only = pss_bytes(parent)
    child_only = pss_bytes(child)
    measured = tree_memory(parent)
    assert parent_only is not None, "smaps_rollup is unreadable"
    assert child_only is not None, "smaps_rollup is unreadable"
    assert measured is not None
    size, is_pss = measured
    assert is_pss
    assert child_only > 40 * MIB, f"the child's ballast is missing: {child_only / MIB:.1f} MiB"
    assert size >= parent_only + child_only - MIB, "the child is not counted in the tree"
    assert size > 80 * MIB


def test_a_process_that_exited_has_no_memory_nor_cpu() -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    assert tree_memory(finished.pid) is None
    assert tree_cpu_seconds(finished.pid) is None
    assert tree_memory(None) is None


def test_tree_cpu_seconds_counts_work_done(tree: tuple[int, int]) -> None:
    parent, _child = tree
    before = tree_cpu_seconds(parent)
    assert before is not None
    assert before > 0.0, "a Python start costs some CPU"
    assert (tree_cpu_seconds(parent) or 0.0) >= before


def test_status_shows_each_components_memory_and_the_total(tree: tuple[int, int]) -> None:
    parent, child = tree
    table = status_table(
        [Running("catalog", parent), Running("redis", child), Running("nats", None)]
    )
    lines = {line.split()[0]: line for line in table.splitlines()[2:]}
    assert lines["catalog"].endswith("MiB"), table
    assert lines["nats"].split()[1] == "down", table
    assert lines["nats"].endswith("-"), table
    catalog = float(lines["catalog"].split()[-2])
    redis = float(lines["redis"].split()[-2])
    total = float(lines["total"].split()[-2])
    assert catalog > redis > 40, table  # the parent's tree holds the child too
    assert total == pytest.approx(catalog + redis, abs=0.2), table
    assert "memory" in table.splitlines()[0]
