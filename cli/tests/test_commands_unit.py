"""Unit tests of the attached mode, log following and ``up`` refusals (no servers)."""

from __future__ import annotations

import argparse
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agora_cli import commands
from agora_cli.logs import follow
from agora_cli.main import main
from agora_cli.stack import Component


class Flaky:
    """A component that is running until ``is_running`` has been asked ``lives`` times."""

    def __init__(self, name: str, lives: int, interrupt: bool = False) -> None:
        self.name, self.port, self.lives, self.interrupt = name, 0, lives, interrupt
        self.stopped = False

    @property
    def pid(self) -> int | None:
        return None

    def is_running(self) -> bool:
        self.lives -= 1
        if self.lives < 0 and self.interrupt:
            self.interrupt = False  # like one Ctrl-C: only the first check is interrupted
            raise KeyboardInterrupt
        return self.lives >= 0 and not self.stopped

    def healthy(self) -> bool:
        return False

    def start(self) -> None:
        """Never called here."""

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture(autouse=True)
def _restore_signals() -> Iterator[None]:
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def test_stay_attached_everything_exited_detaches(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(commands, "WATCH_INTERVAL_SECONDS", 0.0)
    components: list[Component] = [Flaky("redis", 0), Flaky("nats", 1)]
    assert commands._stay_attached(components) == 0
    captured = capsys.readouterr()
    assert "redis exited; see `agora logs redis`" in captured.err
    assert "nats exited" in captured.err
    assert "everything has stopped" in captured.out


def test_stay_attached_interrupt_stops_all_in_reverse(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(commands, "WATCH_INTERVAL_SECONDS", 0.0)
    first, interrupting = Flaky("postgres", 100), Flaky("gateway", 1, interrupt=True)
    assert commands._stay_attached([first, interrupting]) == 0
    assert first.stopped
    assert "stopping postgres ... ok" in capsys.readouterr().out


def test_raise_interrupt_turns_sigterm_into_keyboard_interrupt() -> None:
    with pytest.raises(KeyboardInterrupt):
        commands._raise_interrupt(signal.SIGTERM, None)


def test_follow_prints_appended_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "x.log"
    log.write_text("before\n")

    def append_later() -> None:
        time.sleep(0.3)
        with log.open("a") as handle:
            handle.write("after\n")

    writer = threading.Thread(target=append_later)
    writer.start()
    deadline = time.monotonic() + 3
    follow(log, until=lambda: "after" in capsys.readouterr().out or time.monotonic() > deadline)
    writer.join()
    assert time.monotonic() < deadline


def test_up_port_taken_returns_1_and_names_component(
    open_tmp_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        monkeypatch.setenv("AGORA_NATS_MONITOR_PORT", str(port))
        code = main(["up", "-d", "--infra-only", "--data-dir", str(open_tmp_dir)])
    assert code == 1
    assert f"nats: port {port} is already in use" in capsys.readouterr().err


def test_config_for_up_nothing_running_uses_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGORA_REDIS_PORT", "46379")
    args = argparse.Namespace(data_dir=str(tmp_path), profile="production", infra_only=True)
    config, running = commands._config_for_up(args)
    assert running is False
    assert (config.profile, config.infra_only, config.ports.redis) == ("production", True, 46379)


class HeldPort(Flaky):
    """Runs until stopped, yet its port stays taken (a child that escaped the process group)."""

    def __init__(self, name: str, port: int) -> None:
        super().__init__(name, lives=1_000_000)
        self.port = port


def test_down_port_still_held_exits_1_naming_the_component(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as escaped:
        escaped.bind(("127.0.0.1", 0))
        escaped.listen()
        component = HeldPort("mail", escaped.getsockname()[1])
        monkeypatch.setattr(commands, "build_components", lambda _config: [component])

        code = main(["down", "--data-dir", str(tmp_path)])
        stop_code = main(["stop", "mail", "--data-dir", str(tmp_path)])

    err = capsys.readouterr().err
    assert (code, component.stopped) == (1, True)
    assert "not everything was released: mail" in err
    assert f"port {component.port} held by" in err
    assert stop_code == 0  # already stopped: nothing left to do
