"""Fixtures for the CLI tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def open_tmp_dir() -> Iterator[Path]:
    """A temporary directory whose parents ``nobody`` can traverse.

    pytest's own ``tmp_path`` lives under a 0700 directory, which PostgreSQL (run as ``nobody``
    when the tests run as root) cannot reach.
    """
    path = Path(tempfile.mkdtemp(prefix="agora-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
