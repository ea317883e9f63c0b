"""Unit tests of the throwaway-database helpers that need no server."""

from __future__ import annotations

import pytest

from agora_cli import testdb


def test_database_name_prefix_gets_random_suffix() -> None:
    first, second = testdb.database_name("identity"), testdb.database_name("identity")

    assert first.startswith("identity_")
    assert first != second


@pytest.mark.parametrize("prefix", ["", "Identity", "a-b", 'x"; DROP', "9lives"])
def test_database_name_unsafe_prefix_raises(prefix: str) -> None:
    with pytest.raises(ValueError, match="must match"):
        testdb.database_name(prefix)


def test_with_database_keeps_credentials_and_host() -> None:
    url = "postgresql+asyncpg://postgres:pw@127.0.0.1:5432/postgres"  # pragma: allowlist secret

    assert (
        testdb.with_database(url, "shop_1")
        == "postgresql+asyncpg://postgres:pw@127.0.0.1:5432/shop_1"
    )


def test_with_scheme_switches_driver_only() -> None:
    url = "postgresql://postgres@127.0.0.1:5432/postgres"

    assert testdb.with_scheme(url, "postgresql+asyncpg") == (
        "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )


def test_drop_database_foreign_name_raises() -> None:
    with pytest.raises(ValueError, match="must match"):
        testdb.drop_database("postgresql://postgres@127.0.0.1:1/postgres", "postgresql://h/Prod")


def test_postgres_superuser_env_url_is_used_without_starting_a_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(testdb.DATABASE_URL_ENV, "postgresql://postgres@127.0.0.1:5432/postgres")

    with testdb.postgres_superuser() as url:
        assert url == "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
