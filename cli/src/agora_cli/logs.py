"""``agora logs NAME [-f]``: print (and follow) a component's log file."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from agora_cli.config import resolve_config
from agora_cli.stack import build_components, find_component
from agora_cli.ui import warn

FOLLOW_INTERVAL_SECONDS = 0.25
CHUNK_BYTES = 65536


def last_lines(path: Path, count: int | None) -> str:
    """The last ``count`` lines of ``path`` (all of it when ``count`` is None)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if count is None:
        return text
    lines = text.splitlines(keepends=True)
    return "".join(lines[-count:]) if count > 0 else ""


def follow(path: Path, until: Callable[[], bool] = lambda: False) -> None:
    """Print what is appended to ``path`` until interrupted (handles truncation).

    Args:
        path: The log file.
        until: Checked whenever there is nothing new; following ends when it returns True.
    """
    with path.open("rb") as handle:
        handle.seek(0, 2)
        while not until():
            chunk = handle.read(CHUNK_BYTES)
            if chunk:
                sys.stdout.write(chunk.decode("utf-8", errors="replace"))
                sys.stdout.flush()
                continue
            if path.stat().st_size < handle.tell():
                handle.seek(0)
            time.sleep(FOLLOW_INTERVAL_SECONDS)


def cmd_logs(args: argparse.Namespace) -> int:
    """Print the log of one component, then follow it with ``-f``."""
    config = resolve_config(args.data_dir)
    component = find_component(build_components(config), args.name)
    if component is None:
        names = ", ".join(c.name for c in build_components(config))
        warn(f"agora: unknown component {args.name!r}; choose one of: {names}")
        return 2
    path = config.log_file(component.name)
    if not path.exists():
        warn(f"agora: no log yet for {component.name} ({path})")
        return 1
    sys.stdout.write(last_lines(path, args.tail))
    sys.stdout.flush()
    if args.follow:
        try:
            follow(path)
        except KeyboardInterrupt:
            return 0
    return 0
