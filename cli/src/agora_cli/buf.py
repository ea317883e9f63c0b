"""buf, the protobuf linter, installed from npm (``@bufbuild/buf``) into ``.agora/tools``.

The npm package ships the buf binary for each platform, so Node's ``npm`` is all a machine needs;
the version is pinned here and installed once per checkout. ``buf.yaml`` at the repository root
selects the rules (STANDARD and COMMENTS) and the module (``proto/``).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

BUF_PACKAGE = "@bufbuild/buf"
BUF_VERSION = "1.75.0"
TOOLS_DIR = Path(".agora/tools")
INSTALL_TIMEOUT_SECONDS = 300
VERSION_TIMEOUT_SECONDS = 30


class BufUnavailableError(RuntimeError):
    """buf cannot be installed on this machine (no npm); the message says why."""


@dataclass(frozen=True)
class Commands:
    """The commands that lint ``proto/``, each run from the repository root."""

    lint: list[str]
    format_check: list[str]


def buf_path(root: Path) -> Path:
    """Where npm puts the buf executable for this checkout."""
    return root / TOOLS_DIR / "node_modules" / ".bin" / "buf"


def installed_version(executable: Path) -> str | None:
    """The version ``executable`` reports, or ``None`` when it is missing or broken."""
    if not executable.exists():
        return None
    try:
        done = subprocess.run(  # noqa: S603 - our own tools directory
            [str(executable), "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT_SECONDS,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def install_argv(npm: str, root: Path) -> list[str]:
    """The npm command installing the pinned buf into ``.agora/tools``."""
    prefix = str(root / TOOLS_DIR)
    package = f"{BUF_PACKAGE}@{BUF_VERSION}"
    return [npm, "install", "--prefix", prefix, "--no-audit", "--no-fund", "--save-exact", package]


def ensure_buf(root: Path) -> Path:
    """Return the pinned buf, installing it with npm first when needed.

    Args:
        root: The repository root.

    Returns:
        The buf executable.

    Raises:
        BufUnavailableError: npm is not installed.
        RuntimeError: npm ran but could not install buf (its output is in the message).
    """
    executable = buf_path(root)
    if installed_version(executable) == BUF_VERSION:
        return executable
    npm = shutil.which("npm")
    if npm is None:
        raise BufUnavailableError("npm not found: buf is installed from npm (apt-get install npm)")
    (root / TOOLS_DIR).mkdir(parents=True, exist_ok=True)
    done = subprocess.run(  # noqa: S603 - fixed argv
        install_argv(npm, root),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0 or installed_version(executable) != BUF_VERSION:
        raise RuntimeError(f"npm could not install {BUF_PACKAGE}@{BUF_VERSION}: {done.stderr}")
    return executable


def commands(executable: Path) -> Commands:
    """``buf lint`` and ``buf format --diff --exit-code`` (formatting drift fails too)."""
    buf = str(executable)
    return Commands(lint=[buf, "lint"], format_check=[buf, "format", "--diff", "--exit-code"])
