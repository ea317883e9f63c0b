"""Unit tests of argument parsing, dispatch and the printed tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from agora_cli import gates
from agora_cli.config import Ports, StackConfig
from agora_cli.logs import last_lines
from agora_cli.main import build_parser, main
from agora_cli.summary import admin_login, url_rows


def test_parser_up_defaults_to_foreground_development() -> None:
    args = build_parser().parse_args(["up"])
    assert (args.detach, args.profile, args.infra_only, args.data_dir) == (
        False,
        "development",
        False,
        None,
    )


def test_parser_up_detach_production_data_dir() -> None:
    args = build_parser().parse_args(["up", "-d", "--profile", "production", "--data-dir", "x"])
    assert (args.detach, args.profile, args.data_dir) == (True, "production", "x")


def test_parser_up_unknown_profile_exits() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["up", "--profile", "staging"])


def test_main_test_command_passes_all_arguments_to_gates(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def fake_run(argv: list[str]) -> int:
        seen.append(argv)
        return 7

    monkeypatch.setattr(gates, "run", fake_run)
    assert main(["test", "--fast", "-k", "x"]) == 7
    assert seen == [["--fast", "-k", "x"]]


def test_main_invalid_port_env_returns_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGORA_POSTGRES_PORT", "5432")
    assert main(["status", "--data-dir", str(tmp_path)]) == 2
    assert "5432" in capsys.readouterr().err


def test_url_rows_never_show_generated_passwords(tmp_path: Path) -> None:
    rows = dict(url_rows(StackConfig(tmp_path, Ports(gateway=9090)), {}))
    assert rows["gateway"] == "http://127.0.0.1:9090"
    assert rows["JWKS"] == "http://127.0.0.1:9090/.well-known/jwks.json"
    assert rows["postgresql"].startswith("postgresql://127.0.0.1:15432")
    assert "@" not in rows["postgresql"]
    assert rows["data dir"] == str(tmp_path)


def test_url_rows_list_grpc_port_of_grpc_services(tmp_path: Path) -> None:
    rows = dict(url_rows(StackConfig(tmp_path, Ports(grpc_base=24000)), {}))
    assert rows["catalog gRPC"] == "127.0.0.1:24002"
    assert "identity gRPC" not in rows


def test_url_rows_production_has_no_admin_login(tmp_path: Path) -> None:
    rows = dict(url_rows(StackConfig(tmp_path, profile="production"), {}))
    assert "admin login" not in rows


def test_admin_login_user_password_is_not_echoed() -> None:
    assert admin_login({}) == "admin@agora.local / Admin123!"
    assert "secret" not in admin_login({"AGORA_ADMIN_PASSWORD": "secret"})


def test_last_lines_count_returns_tail(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("1\n2\n3\n")
    assert last_lines(log, 2) == "2\n3\n"
    assert last_lines(log, None) == "1\n2\n3\n"
    assert last_lines(log, 0) == ""


def test_url_rows_operational_urls_use_the_operator_entrypoint(tmp_path: Path) -> None:
    ports = Ports(gateway=9090, gateway_admin=9091, smtp=12025)
    rows = dict(url_rows(StackConfig(tmp_path, ports), {}))
    assert rows["operator (loopback)"].startswith("http://127.0.0.1:9091 ")
    assert rows["mail"] == "http://127.0.0.1:9091/mail"
    assert rows["identity health"] == "http://127.0.0.1:9091/identity/health/ready"
    assert rows["traefik dashboard"] == "http://127.0.0.1:9091/dashboard/"
    assert rows["identity API"] == "http://127.0.0.1:9090/api/v1/auth"
    assert rows["shop"].startswith("http://127.0.0.1:9090/ ")
    assert rows["smtp"] == "smtp://127.0.0.1:12025"


def test_url_rows_production_has_no_mail_page(tmp_path: Path) -> None:
    rows = dict(url_rows(StackConfig(tmp_path, profile="production"), {}))
    assert "mail" not in rows
    assert "smtp" in rows


def test_url_rows_payment_simulator_ledger_only_in_development(tmp_path: Path) -> None:
    ports = Ports(paysim=23090, gateway=9090)
    development = dict(url_rows(StackConfig(tmp_path, ports), {}))
    production = dict(url_rows(StackConfig(tmp_path, ports, profile="production"), {}))

    assert development["payment simulator"] == (
        "http://127.0.0.1:23090/v1 (tokens also at http://127.0.0.1:9090/v1/tokens)"
    )
    assert development["payment ledger"] == "http://127.0.0.1:23090/admin"
    assert "payment ledger" not in production
    assert production["payment simulator"] == development["payment simulator"]
