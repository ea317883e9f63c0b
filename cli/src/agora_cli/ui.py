"""Terminal output: progress lines and plain-text tables."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Format ``rows`` as left-aligned columns under ``headers``.

    Args:
        headers: Column titles.
        rows: One sequence of cells per row; cells are turned into text with ``str``.

    Returns:
        The table, lines joined by newlines, without trailing spaces.
    """
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        if len(row) != len(headers):
            raise ValueError(f"row {row} has {len(row)} cells, expected {len(headers)}")
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = [list(headers), ["-" * width for width in widths], *cells]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def say(message: str = "") -> None:
    """Print a line to stdout and flush (output may be piped into a log)."""
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    """Print a line to stderr."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


@contextmanager
def step(label: str, *, to_stderr: bool = False) -> Iterator[None]:
    """Print ``label ... ok (0.9s)``, or ``FAILED`` when the block raises.

    Args:
        label: What the block does, e.g. ``starting postgres``.
        to_stderr: Print on stderr (when stdout carries results, e.g. ``--json``).
    """
    out = sys.stderr if to_stderr else sys.stdout
    out.write(f"{label} ... ")
    out.flush()
    started = time.monotonic()
    try:
        yield
    except BaseException:
        out.write(f"FAILED ({time.monotonic() - started:.1f}s)\n")
        out.flush()
        raise
    out.write(f"ok ({time.monotonic() - started:.1f}s)\n")
    out.flush()
