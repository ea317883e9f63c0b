"""Unit tests of the per-data-dir secrets file."""

from __future__ import annotations

import json
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agora_cli.secrets_store import get_or_create_secret, secrets_file


def test_get_or_create_secret_first_call_writes_private_file(tmp_path: Path) -> None:
    secret = get_or_create_secret(tmp_path, "postgres/identity")
    mode = stat.S_IMODE(secrets_file(tmp_path).stat().st_mode)
    assert mode == 0o600
    assert len(secret) >= 24
    assert json.loads(secrets_file(tmp_path).read_text()) == {"postgres/identity": secret}


def test_get_or_create_secret_second_call_returns_same_value(tmp_path: Path) -> None:
    first = get_or_create_secret(tmp_path, "postgres/identity")
    assert get_or_create_secret(tmp_path, "postgres/identity") == first


def test_get_or_create_secret_other_key_gets_other_value(tmp_path: Path) -> None:
    first = get_or_create_secret(tmp_path, "postgres/identity")
    second = get_or_create_secret(tmp_path, "postgres/catalog")
    assert first != second
    assert set(json.loads(secrets_file(tmp_path).read_text())) == {
        "postgres/identity",
        "postgres/catalog",
    }


def test_secrets_created_at_once_by_parallel_starts_all_persist(tmp_path: Path) -> None:
    """Services start in parallel, each adding its own secrets: none may be lost or crash.

    Before the lock, two writers shared one temporary name (``secrets.tmp``: "No such file" when
    one renamed it away first) and each wrote the file without the other's key.
    """
    keys = [f"postgres/service-{n}" for n in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = dict(
            zip(keys, pool.map(lambda k: get_or_create_secret(tmp_path, k), keys), strict=True)
        )
    stored = json.loads(secrets_file(tmp_path).read_text())
    assert stored == created, "a secret created by a parallel start was lost"
    assert stat.S_IMODE(secrets_file(tmp_path).stat().st_mode) == 0o600
    assert not list(tmp_path.glob("*.tmp")), "a temporary file was left behind"
