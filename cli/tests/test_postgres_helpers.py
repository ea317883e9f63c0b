"""Unit tests of the PostgreSQL helpers that need no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from agora_cli.infra.postgres import (
    EmbeddedPostgres,
    pg_bin_dir,
    quote_ident,
    quote_literal,
    untraversable_parents,
)


def test_quote_ident_embedded_quote_is_doubled() -> None:
    assert quote_ident('we"ird') == '"we""ird"'


def test_quote_ident_empty_raises() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        quote_ident("")


def test_quote_literal_embedded_quote_is_doubled() -> None:
    assert quote_literal("it's") == "'it''s'"


def test_quote_literal_nul_raises() -> None:
    with pytest.raises(ValueError, match="NUL"):
        quote_literal("a\x00b")


def test_untraversable_parents_private_parent_is_reported(tmp_path: Path) -> None:
    private = tmp_path / "private"
    (private / "data").mkdir(parents=True)
    private.chmod(0o700)
    assert private in untraversable_parents(private / "data")


def test_untraversable_parents_open_parents_returns_empty(open_tmp_dir: Path) -> None:
    assert untraversable_parents(open_tmp_dir / "data") == []


def test_superuser_url_uses_loopback_port_and_generated_password(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg", 45432, tmp_path / "pg.log")
    password = pg.superuser_password
    assert len(password) >= 32
    assert pg.superuser_url == f"postgresql+asyncpg://postgres:{password}@127.0.0.1:45432/postgres"
    assert pg.password_file.stat().st_mode & 0o777 == 0o600
    assert not pg.is_running()


def test_superuser_password_is_stable_across_instances(tmp_path: Path) -> None:
    first = EmbeddedPostgres(tmp_path / "pg", 45432, tmp_path / "pg.log").superuser_password
    second = EmbeddedPostgres(tmp_path / "pg", 45432, tmp_path / "pg.log").superuser_password
    assert first == second


def test_pg_bin_dir_contains_server_binaries() -> None:
    for name in ("initdb", "pg_ctl", "postgres", "psql"):
        assert (pg_bin_dir() / name).exists()


def test_role_and_database_sql_quotes_hostile_names_and_password() -> None:
    from agora_cli.infra.postgres import role_and_database_sql

    sql = role_and_database_sql('db"x', "o'wner", "p'w")
    assert "ALTER ROLE \"o'wner\" LOGIN PASSWORD 'p''w';" in sql
    assert "format('CREATE DATABASE %I OWNER %I', 'db\"x', 'o''wner')" in sql
    assert sql.count("\\gexec") == 2
