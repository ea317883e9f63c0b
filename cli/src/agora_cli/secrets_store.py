"""Generated secrets of one data directory, kept in ``<data>/secrets.json`` (mode 0600)."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SECRET_BYTES = 24


def secrets_file(data_dir: Path) -> Path:
    """Path of the secrets file of ``data_dir``."""
    return data_dir / "secrets.json"


def get_or_create_secret(data_dir: Path, key: str) -> str:
    """Return the secret stored under ``key``, generating and saving it the first time.

    The file is created with mode 0600 from the start (never world-readable, even briefly), and
    the value is never printed by the CLI.

    Args:
        data_dir: The stack's data directory.
        key: Name of the secret, e.g. ``postgres/identity``.

    Returns:
        The secret (URL-safe text).
    """
    path = secrets_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Services start in parallel and each may add its own secrets: the read-modify-write is
    # serialised by a lock file, or two of them would each write the file without the other's key.
    with _locked(path.with_suffix(".lock")):
        stored: dict[str, str] = {}
        if path.exists():
            stored = json.loads(path.read_text(encoding="utf-8"))
        if key not in stored:
            stored[key] = secrets.token_urlsafe(SECRET_BYTES)
            _write_private(path, stored)
        return stored[key]


@contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_file`` (threads and processes alike)."""
    descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _write_private(path: Path, stored: dict[str, str]) -> None:
    """Replace ``path`` atomically with ``stored``, mode 0600 from the first byte."""
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=".secrets-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:  # mkstemp: mode 0600
            json.dump(stored, handle, indent=2)
        Path(partial).replace(path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
