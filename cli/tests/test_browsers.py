"""The ``browsers`` gate: Chromium from apt (root only) and axe-core from npm, for tests/browser."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from agora_cli import browsers, gates
from agora_cli.config import repo_root
from agora_cli.gates import Context, Options

FAKE_NPM = """#!/bin/sh
# Stands in for npm: records the call and "installs" axe-core where `npm ci` runs.
echo "$PWD $@" >> "$(dirname "$0")/npm-calls"
mkdir -p node_modules/axe-core && echo '/* axe */' > node_modules/axe-core/axe.min.js
exit {code}
"""


class Recorder:
    """A runner that records each command; ``creates`` appears once ``apt-get install`` ran."""

    def __init__(self, creates: Path | None = None, failing: str = "") -> None:
        self.calls: list[tuple[str, ...]] = []
        self.directories: list[Path] = []
        self.creates = creates
        self.failing = failing

    def __call__(self, argv: Sequence[str], cwd: Path) -> int:
        self.calls.append(tuple(argv))
        self.directories.append(cwd)
        if self.failing and self.failing in argv:
            return 100
        if self.creates is not None and "install" in argv:
            self.creates.write_text("#!/bin/sh\n")
        return 0


def fake_npm(directory: Path, code: int = 0) -> Path:
    npm = directory / "bin" / "npm"
    npm.parent.mkdir()
    npm.write_text(FAKE_NPM.format(code=code))
    npm.chmod(0o755)
    return npm


def test_ensure_chromium_present_installs_nothing(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text("")
    runner = Recorder()

    ready = browsers.ensure_chromium(runner, tmp_path, chromium=chromium, as_root=False)

    assert ready == browsers.Readiness()
    assert runner.calls == []


def test_ensure_chromium_missing_without_root_says_why_and_runs_nothing(tmp_path: Path) -> None:
    runner = Recorder()

    ready = browsers.ensure_chromium(runner, tmp_path, chromium=tmp_path / "c", as_root=False)

    assert not ready.failed
    assert "only root may install it" in ready.problem
    assert runner.calls == []


def test_ensure_chromium_missing_as_root_updates_then_installs(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    runner = Recorder(creates=chromium)

    ready = browsers.ensure_chromium(runner, tmp_path, chromium=chromium, as_root=True)

    assert ready == browsers.Readiness()
    assert runner.calls == [("apt-get", "update"), ("apt-get", "install", "-y", "chromium")]
    assert runner.directories == [tmp_path, tmp_path]


def test_ensure_chromium_failed_apt_fails_and_stops(tmp_path: Path) -> None:
    runner = Recorder(failing="update")

    ready = browsers.ensure_chromium(runner, tmp_path, chromium=tmp_path / "c", as_root=True)

    assert ready.failed
    assert ready.problem == "apt-get update exited with 100"
    assert runner.calls == [("apt-get", "update")]


def test_ensure_chromium_install_without_the_binary_fails(tmp_path: Path) -> None:
    ready = browsers.ensure_chromium(Recorder(), tmp_path, chromium=tmp_path / "c", as_root=True)

    assert ready.failed
    assert "is not there" in ready.problem


def test_ensure_axe_missing_npm_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)

    ready = browsers.ensure_axe(Recorder(), tmp_path)

    assert not ready.failed
    assert ready.problem.startswith("npm not found")


def run_for(ctx: Context) -> browsers.Runner:
    return lambda argv, cwd: gates.execute(ctx, argv, cwd=cwd)[0]


def test_ensure_axe_runs_npm_ci_in_tests_browser_once(tmp_path: Path) -> None:
    (tmp_path / browsers.BROWSER_TESTS).mkdir(parents=True)
    npm = fake_npm(tmp_path)
    run = run_for(Context(root=tmp_path, options=Options()))

    first = browsers.ensure_axe(run, tmp_path, npm=str(npm))
    again = browsers.ensure_axe(run, tmp_path, npm=str(npm))

    assert first == again == browsers.Readiness()
    calls = (npm.parent / "npm-calls").read_text().splitlines()
    assert calls == [f"{tmp_path / browsers.BROWSER_TESTS} ci --no-audit --no-fund"]


def test_ensure_axe_failed_npm_ci_fails(tmp_path: Path) -> None:
    (tmp_path / browsers.BROWSER_TESTS).mkdir(parents=True)
    npm = fake_npm(tmp_path, code=1)

    ready = browsers.ensure_axe(
        run_for(Context(root=tmp_path, options=Options())), tmp_path, npm=str(npm)
    )

    assert ready == browsers.Readiness("npm ci exited with 1", failed=True)


def step_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, npm_code: int | None) -> Context:
    """A repository in ``tmp_path`` whose Chromium is there; npm absent (None) or exiting so."""
    chromium = tmp_path / "chromium"
    chromium.write_text("")
    monkeypatch.setattr(browsers, "CHROMIUM", chromium)
    (tmp_path / browsers.BROWSER_TESTS).mkdir(parents=True)
    npm = None if npm_code is None else str(fake_npm(tmp_path, npm_code))
    monkeypatch.setattr(shutil, "which", lambda _name: npm)
    return Context(root=tmp_path, options=Options())


def test_step_installs_axe_and_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = browsers.step(step_ctx(tmp_path, monkeypatch, npm_code=0))

    assert outcome == gates.OK
    assert (tmp_path / browsers.AXE_SCRIPT).exists()
    assert "ci --no-audit --no-fund" in capsys.readouterr().out


def test_step_without_npm_is_skipped_not_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = browsers.step(step_ctx(tmp_path, monkeypatch, npm_code=None))

    assert (outcome.status, outcome.passed) == ("skipped", True)
    assert outcome.detail.startswith("npm not found")


def test_step_with_a_failing_install_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = browsers.step(step_ctx(tmp_path, monkeypatch, npm_code=1))

    assert (outcome.status, outcome.passed) == ("FAILED", False)
    assert outcome.detail == "npm ci exited with 1"


def test_browsers_step_runs_before_the_server_tests() -> None:
    assert gates.STEP_NAMES.index("browsers") == gates.STEP_NAMES.index("integration") - 1


def test_axe_core_is_pinned_by_the_lock_file() -> None:
    directory = repo_root() / browsers.BROWSER_TESTS
    wanted = json.loads((directory / "package.json").read_text())["devDependencies"]["axe-core"]
    lock = json.loads((directory / "package-lock.json").read_text())

    assert lock["packages"]["node_modules/axe-core"]["version"] == wanted
