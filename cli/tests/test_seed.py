"""``agora seed`` without a real stack: argument checks, service selection, and the run itself
against a stand-in seed module (PostgreSQL and the service environment faked).

Loading the real catalogue is tested in services/catalog/tests/integration/test_seed.py.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from agora_cli import seed
from agora_cli.infra.postgres import EmbeddedPostgres
from agora_cli.main import build_parser, main
from agora_cli.service_process import ServiceProcess
from agora_cli.services import IDENTITY, ServiceSpec

FAKE_SEED = """
import os, sys
print("fake seed loaded", sys.argv[1:], os.environ["AGORA_DATABASE_URL"], flush=True)
sys.exit(int(os.environ.get("FAKE_SEED_EXIT", "0")))
"""


@dataclass(frozen=True)
class SeededSpec(ServiceSpec):
    """A service spec with the ``seed`` field the registry is getting."""

    seed: str | None = None


FAKE = SeededSpec(
    name="fake",
    package="fake",
    app="fake:create_app",
    port_offset=9,
    database="fake",
    extensions=(),
    alembic_ini="services/fake/alembic.ini",
    gateway_rule="PathPrefix(`/fake`)",
    redis_db=9,
    seed="fake_seed",
)


@pytest.fixture
def fake_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """A registry with a seedable service, a "running" PostgreSQL, and no real migration.

    Returns:
        The services whose migrations ran, in order.
    """
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "fake_seed.py").write_text(FAKE_SEED, encoding="utf-8")
    migrated: list[str] = []

    def environment(process: ServiceProcess) -> dict[str, str]:
        return {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(modules),
            "AGORA_DATABASE_URL": f"postgresql+asyncpg://{process.spec.database}@db",
        }

    monkeypatch.setattr("agora_cli.services.SERVICES", (IDENTITY, FAKE))
    monkeypatch.setattr(EmbeddedPostgres, "is_running", lambda _self: True)
    monkeypatch.setattr(ServiceProcess, "environment", environment)
    monkeypatch.setattr(ServiceProcess, "migrate", lambda self, _env: migrated.append(self.name))
    return migrated


def test_parser_seed_takes_service_count_and_data_dir() -> None:
    args = build_parser().parse_args(["seed", "--service", "catalog", "--count", "50"])
    default = build_parser().parse_args(["seed"])

    assert (args.service, args.count, args.data_dir) == ("catalog", 50, None)
    assert (default.service, default.count) == (None, None)


def test_parser_seed_refuses_a_negative_count(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["seed", "--count", "-5"])
    assert "must not be negative" in capsys.readouterr().err


def test_cmd_seed_without_a_running_stack_exits_1_with_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["seed", "--data-dir", str(tmp_path)])

    err = capsys.readouterr().err
    assert code == 1
    assert "agora: postgres is not running" in err
    assert "`agora up`" in err


def test_seed_module_is_none_without_the_field_or_with_an_empty_one() -> None:
    assert seed.seed_module(IDENTITY) is None
    assert seed.seed_module(SeededSpec(**{**FAKE.__dict__, "seed": ""})) is None
    assert seed.seed_module(FAKE) == "fake_seed"


def test_seedable_services_without_any_seed_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agora_cli.services.SERVICES", (IDENTITY,))

    with pytest.raises(seed.SeedError, match="no registered service has demo data"):
        seed.seedable_services(None)


@pytest.mark.parametrize("name", ["identity", "nosuch"])
def test_seedable_services_refuses_services_without_demo_data(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agora_cli.services.SERVICES", (IDENTITY, FAKE))

    with pytest.raises(seed.SeedError, match="choose one of: fake"):
        seed.seedable_services(name)
    assert seed.seedable_services("fake") == [FAKE]
    assert seed.seedable_services(None) == [FAKE]


def test_seed_argv_passes_the_count_only_when_given() -> None:
    assert seed.seed_argv("py", "m", None) == ["py", "-m", "m"]
    assert seed.seed_argv("py", "m", 0) == ["py", "-m", "m", "--count", "0"]


def test_cmd_seed_migrates_then_runs_the_module_with_the_service_environment(
    fake_stack: list[str], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code = main(["seed", "--data-dir", str(tmp_path), "--count", "3"])

    out = capfd.readouterr().out
    assert code == 0
    assert fake_stack == ["fake"]
    assert "fake: running fake_seed" in out
    assert "fake seed loaded ['--count', '3'] postgresql+asyncpg://fake@db" in out
    assert out.rstrip().endswith("demo data loaded: fake")


def test_cmd_seed_reports_a_failed_seed(
    fake_stack: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(
        ServiceProcess,
        "environment",
        lambda _self: {
            "PYTHONPATH": str(tmp_path / "modules"),
            "AGORA_DATABASE_URL": "postgresql+asyncpg://fake@db",
            "FAKE_SEED_EXIT": "3",
        },
    )

    code = main(["seed", "--data-dir", str(tmp_path)])

    captured = capfd.readouterr()
    assert code == 1
    assert "fake seed loaded" in captured.out
    assert "agora: fake: seeding failed (exit status 3)" in captured.err


def test_cmd_seed_reports_a_seed_that_takes_too_long(
    fake_stack: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def too_slow(argv: list[str], **_kwargs: object) -> None:
        raise subprocess.TimeoutExpired(argv, seed.SEED_TIMEOUT_SECONDS)

    monkeypatch.setattr(subprocess, "run", too_slow)

    code = main(["seed", "--data-dir", str(tmp_path), "--service", "fake"])

    assert code == 1
    assert "agora: fake: seeding took over 900s" in capsys.readouterr().err


def test_cmd_seed_runs_the_current_interpreter() -> None:
    assert seed.seed_argv(sys.executable, "x", None)[0] == sys.executable
