"""Unit tests of the pip-audit helpers: the ignore list, the service probe, the commands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest

from agora_cli import audit

TODAY = dt.date(2026, 11, 23)


def write_ignores(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pip-audit-ignore.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_load_ignores_missing_file_ignores_nothing(tmp_path: Path) -> None:
    assert audit.load_ignores(tmp_path / "absent.toml", TODAY) == []


def test_load_ignores_valid_entry_is_returned_with_its_reason(tmp_path: Path) -> None:
    path = write_ignores(
        tmp_path, '[[ignore]]\nid = "GHSA-1"\nreason = "not reachable"\nuntil = 2027-01-01\n'
    )

    assert audit.load_ignores(path, TODAY) == [
        audit.IgnoredVulnerability("GHSA-1", "not reachable", dt.date(2027, 1, 1))
    ]


def test_load_ignores_entry_without_reason_raises(tmp_path: Path) -> None:
    path = write_ignores(tmp_path, '[[ignore]]\nid = "GHSA-1"\nreason = " "\n')

    with pytest.raises(ValueError, match="needs an id and a reason"):
        audit.load_ignores(path, TODAY)


def test_load_ignores_expired_entry_raises(tmp_path: Path) -> None:
    path = write_ignores(tmp_path, '[[ignore]]\nid = "GHSA-1"\nreason = "r"\nuntil = 2026-11-22\n')

    with pytest.raises(ValueError, match="expired on 2026-11-22"):
        audit.load_ignores(path, TODAY)


def test_load_ignores_repository_file_is_valid() -> None:
    repository_file = Path(__file__).resolve().parents[2] / audit.IGNORE_FILE

    for ignore in audit.load_ignores(repository_file, TODAY):
        assert ignore.reason


@pytest.mark.parametrize(("status", "expected"), [(200, True), (404, False), (503, False)])
def test_service_reachable_status_decides(status: int, expected: bool) -> None:
    transport = httpx.MockTransport(lambda _request: httpx.Response(status))

    with httpx.Client(transport=transport) as client:
        assert audit.service_reachable(client) is expected


def test_service_reachable_connection_error_is_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route", request=request)

    with httpx.Client(transport=httpx.MockTransport(refuse)) as client:
        assert audit.service_reachable(client) is False


def test_audit_command_strict_with_every_ignore(tmp_path: Path) -> None:
    ignores = [audit.IgnoredVulnerability("A", "r"), audit.IgnoredVulnerability("B", "r")]

    command = audit.audit_command("pip-audit", tmp_path / "req.txt", ignores)

    assert "--strict" in command
    assert command[-4:] == ["--ignore-vuln", "A", "--ignore-vuln", "B"]


def test_export_command_writes_locked_third_party_packages(tmp_path: Path) -> None:
    command = audit.export_command(tmp_path / "req.txt")

    assert {"--frozen", "--no-emit-workspace", "--all-groups"} <= set(command)
    assert command[-1] == str(tmp_path / "req.txt")
