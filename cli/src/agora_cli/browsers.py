"""What the storefront's browser tests (``tests/browser``) need, installed by ``agora test``.

Debian's Chromium comes from apt (Playwright's own browser download is not reachable from here or
CI); axe-core comes from npm, pinned by ``tests/browser/package-lock.json`` and installed with
``npm ci``. Where either cannot be installed (not root, no npm) the ``browsers`` step says why and
the browser tests skip themselves with the same reason; where an install was tried and failed, the
step fails (the other gates still run).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agora_cli.gates import Context, Outcome

CHROMIUM = Path("/usr/bin/chromium")
# How Debian's Chromium is started by the browser tests and `agora screenshots`: headless, as
# root, and with nothing that calls home at start-up (the closed network refuses it).
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Debian's ``chromium`` package puts its launcher here; Playwright is given this executable."""
BROWSER_TESTS = Path("tests/browser")
AXE_SCRIPT = BROWSER_TESTS / "node_modules" / "axe-core" / "axe.min.js"
APT_INSTALL = (("apt-get", "update"), ("apt-get", "install", "-y", "chromium"))
NPM_INSTALL = ("ci", "--no-audit", "--no-fund")

Runner = Callable[[Sequence[str], Path], int]
"""Runs a command in a directory, showing its output; returns its exit code."""


@dataclass(frozen=True)
class Readiness:
    """Whether one tool is there: ``problem`` says why not; ``failed`` when an install failed."""

    problem: str = ""
    failed: bool = False


def running_as_root() -> bool:
    """True for root, who may ``apt-get install`` (CI runs as root)."""
    return os.geteuid() == 0


def ensure_chromium(
    run: Runner, root: Path, *, chromium: Path = CHROMIUM, as_root: bool | None = None
) -> Readiness:
    """Install Debian's Chromium with apt when it is missing and we are root.

    Args:
        run: Runs each apt-get command.
        root: The repository root (apt-get runs there).
        chromium: Where the browser must end up.
        as_root: Whether we are root (``None``: ask the OS).
    """
    if chromium.exists():
        return Readiness()
    if not (running_as_root() if as_root is None else as_root):
        return Readiness(
            f"{chromium} is missing and only root may install it (apt-get install chromium)"
        )
    for argv in APT_INSTALL:
        code = run(argv, root)
        if code != 0:
            return Readiness(f"{' '.join(argv)} exited with {code}", failed=True)
    if not chromium.exists():
        return Readiness(f"apt-get installed chromium but {chromium} is not there", failed=True)
    return Readiness()


def ensure_axe(run: Runner, root: Path, *, npm: str | None = None) -> Readiness:
    """Install the pinned axe-core with ``npm ci`` in ``tests/browser`` when it is missing."""
    if (root / AXE_SCRIPT).exists():
        return Readiness()
    npm = npm or shutil.which("npm")
    if npm is None:
        return Readiness("npm not found: axe-core is installed from npm (apt-get install npm)")
    code = run((npm, *NPM_INSTALL), root / BROWSER_TESTS)
    if code != 0:
        return Readiness(f"npm ci exited with {code}", failed=True)
    if not (root / AXE_SCRIPT).exists():
        return Readiness(f"npm ci ran but {AXE_SCRIPT} is not there", failed=True)
    return Readiness()


def step(ctx: Context) -> Outcome:
    """The ``browsers`` gate: install Chromium and axe-core for the browser tests when missing."""
    from agora_cli.gates import OK, Outcome, execute, say

    def run(argv: Sequence[str], cwd: Path) -> int:
        say(f"  installing for {BROWSER_TESTS}/:")
        return execute(ctx, argv, cwd=cwd)[0]

    results = [ensure_chromium(run, ctx.root, chromium=CHROMIUM), ensure_axe(run, ctx.root)]
    problems = "; ".join(result.problem for result in results if result.problem)
    if any(result.failed for result in results):
        return Outcome("FAILED", passed=False, detail=problems)
    if problems:
        say(f"  the browser tests will skip themselves because: {problems}")
        return Outcome("skipped", passed=True, detail=problems)
    say(f"  {CHROMIUM} and {AXE_SCRIPT} are installed")
    return OK
