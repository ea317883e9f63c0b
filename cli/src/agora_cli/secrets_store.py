"""Generated secrets of one data directory, kept in ``<data>/secrets.json`` (mode 0600)."""

from __future__ import annotations

import json
import os
import secrets
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
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    if key in stored:
        return stored[key]
    stored[key] = secrets.token_urlsafe(SECRET_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(stored, handle, indent=2)
    partial.chmod(0o600)
    partial.replace(path)
    return stored[key]
