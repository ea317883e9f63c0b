"""Integration tests: the CLI commands in-process against a real infra-only stack."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from agora_cli.infra.ports import port_accepts
from agora_cli.main import main
from agora_cli.services import SERVICES
from agora_testing.fixtures import stack_port_env

pytestmark = pytest.mark.integration


@pytest.fixture
def stack_dir(open_tmp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data dir with free ports in the environment; stopped and signals restored after."""
    for variable, port in stack_port_env(len(SERVICES)).items():
        monkeypatch.setenv(variable, port)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield open_tmp_dir
    main(["down", "--data-dir", str(open_tmp_dir)])
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process and return its exit code, stdout and stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_up_status_stop_start_logs_down(
    stack_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ("--data-dir", str(stack_dir))
    up = run(capsys, "up", "--detach", "--infra-only", *data)
    status = run(capsys, "status", *data)
    stop = run(capsys, "stop", "redis", *data)
    stopped_status = run(capsys, "status", *data)
    start = run(capsys, "start", "valkey", *data)
    restart = run(capsys, "restart", "nats", *data)
    logs = run(capsys, "logs", "redis", "-n", "1", *data)
    down = run(capsys, "down", *data)

    assert up[0] == 0
    assert "postgres ready in" in up[1]
    assert "all 7 components ready in" in up[1]
    assert "redis (valkey)" in up[1]
    assert states(status[1]) == {
        "postgres": "up",
        "redis": "up",
        "nats": "up",
        "mail": "up",
        "paysim": "up",
        "gateway-errors": "up",
        "forkserver": "down",
        "identity": "down",
        "notification": "down",
        "catalog": "down",
        "basket": "down",
        "ordering": "down",
        "payment": "down",
        "storefront": "down",
        "gateway": "up",
    }
    assert stop[1].startswith("stopping redis ... ok")
    assert states(stopped_status[1])["redis"] == "down"
    assert start[0] == 0
    assert "starting redis ... ok" in start[1]
    assert "stopping nats" in restart[1]
    assert "starting nats" in restart[1]
    assert len(logs[1].splitlines()) == 1
    assert down[0] == 0
    assert (
        down[1]
        .strip()
        .endswith("stopped: gateway, gateway-errors, paysim, mail, nats, redis, postgres")
    )
    assert not port_accepts(int(os.environ["AGORA_REDIS_PORT"]))


def states(status_output: str) -> dict[str, str]:
    """Component name -> up/down, from the ``agora status`` table."""
    rows = [line.split() for line in status_output.splitlines()[2:]]
    return {row[0]: row[1] for row in rows if len(row) >= 5 and row[1] in {"up", "down"}}


def test_cli_unknown_component_returns_2(
    stack_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("start", "stop", "logs"):
        code, _out, err = run(capsys, command, "kafka", "--data-dir", str(stack_dir))
        assert code == 2
        assert "unknown component 'kafka'" in err


def test_cli_start_service_without_postgres_refuses(
    stack_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(capsys, "start", "identity", "--data-dir", str(stack_dir))
    assert code == 1
    assert "identity needs postgres, redis, nats" in err


def test_cli_logs_before_any_run_reports_missing(
    stack_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(capsys, "logs", "nats", "--data-dir", str(stack_dir))
    assert code == 1
    assert "no log yet for nats" in err


def test_cli_down_nothing_running_says_so(
    stack_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "down", "--data-dir", str(stack_dir))[1] == "nothing was running\n"


def test_cli_stop_not_running_says_so(stack_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "stop", "gateway", "--data-dir", str(stack_dir))
    assert (code, out) == (0, "gateway is not running\n")
