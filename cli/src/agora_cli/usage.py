"""What a component's processes use: CPU seconds (``agora up``) and memory (``agora status``).

A component is a process tree: PostgreSQL's postmaster and its backends, uvicorn and nothing
else, Traefik alone. Memory is the tree's proportional set size (PSS, from
``/proc/<pid>/smaps_rollup``): a page shared by N processes counts 1/N in each, so the sum over
the stack is what it really takes. Where PSS cannot be read (not Linux, another user's process)
the resident set size (RSS) is used, which counts shared pages in full.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import psutil

PROC = Path("/proc")
KIB = 1024


def process_tree(pid: int | None) -> list[psutil.Process]:
    """The process ``pid`` and all its descendants; empty when it is gone."""
    if pid is None:
        return []
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU seconds the tree of ``pid`` has used so far; None when it is gone."""
    tree = process_tree(pid)
    total = 0.0
    for process in tree:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total if tree else None


def pss_bytes(pid: int, proc: Path = PROC) -> int | None:
    """The proportional set size of ``pid`` from ``smaps_rollup``; None when it is unreadable."""
    try:
        text = (proc / str(pid) / "smaps_rollup").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        fields = line.split()
        if fields[:1] == ["Pss:"] and len(fields) >= 2:  # noqa: PLR2004 - "Pss: <n> kB"
            return int(fields[1]) * KIB
    return None


def memory_bytes(process: psutil.Process) -> tuple[int, bool]:
    """What ``process`` holds: its PSS, else its RSS; and whether the number is a PSS."""
    pss = pss_bytes(process.pid)
    if pss is not None:
        return pss, True
    try:
        return int(process.memory_info().rss), False
    except psutil.Error:
        return 0, False


def tree_memory(pid: int | None) -> tuple[int, bool] | None:
    """The memory of the tree of ``pid`` (see :func:`memory_bytes`); None when it is gone.

    Returns:
        The bytes and whether every process of the tree was measured by PSS.
    """
    tree = process_tree(pid)
    if not tree:
        return None
    total, all_pss = 0, True
    for process in tree:
        size, is_pss = memory_bytes(process)
        total += size
        all_pss = all_pss and is_pss
    return total, all_pss


def format_mib(size: int) -> str:
    """``123.4 MiB``."""
    return f"{size / KIB / KIB:.1f} MiB"
