"""Unit tests of the individual gate steps: the commands they build and how they judge results."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from agora_cli import asyncapi, audit, gates
from agora_cli.gates import Context, Options


class RecordingExecute:
    """Stands in for ``gates.execute``: records each argv and answers with scripted exit codes."""

    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)
        self.calls: list[list[str]] = []

    def __call__(
        self, _ctx: Context, argv: Sequence[str], *_args: object, **_kwargs: object
    ) -> tuple[int, str]:
        self.calls.append(list(argv))
        return self.codes.pop(0), ""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for directory in ("libs/chassis/src", "cli/src"):
        (tmp_path / directory).mkdir(parents=True)
    return tmp_path


def test_mypy_step_checks_every_src_dir_strictly(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = RecordingExecute(1)
    monkeypatch.setattr(gates, "execute", fake)

    outcome = gates.mypy_step(Context(root=repo, options=Options()))

    assert outcome == gates.FAILED
    assert fake.calls[0][1:] == ["--strict", "cli/src", "libs/chassis/src"]


def test_bandit_step_fails_on_medium_severity_only(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = RecordingExecute(0)
    monkeypatch.setattr(gates, "execute", fake)

    outcome = gates.bandit_step(Context(root=repo, options=Options()))

    assert outcome == gates.OK
    assert fake.calls[0][-3:-1] == ["--severity-level", "medium"]


def test_pip_audit_step_reachable_exports_lock_then_audits_with_ignores(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / ".ci").mkdir()
    (repo / audit.IGNORE_FILE).write_text('[[ignore]]\nid = "GHSA-9"\nreason = "unused"\n')
    fake = RecordingExecute(0, 0)
    monkeypatch.setattr(gates, "execute", fake)
    monkeypatch.setattr(audit, "service_reachable", lambda: True)

    outcome = gates.pip_audit_step(Context(root=repo, options=Options()))

    assert outcome == gates.OK
    assert fake.calls[0][1] == "export"
    assert fake.calls[1][-2:] == ["--ignore-vuln", "GHSA-9"]


def test_pip_audit_step_export_failure_fails_before_auditing(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = RecordingExecute(2)
    monkeypatch.setattr(gates, "execute", fake)
    monkeypatch.setattr(audit, "service_reachable", lambda: True)

    outcome = gates.pip_audit_step(Context(root=repo, options=Options()))

    assert (outcome.passed, outcome.detail, len(fake.calls)) == (False, "uv export failed", 1)


def test_asyncapi_step_stale_document_fails_naming_it(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = repo / asyncapi.DOCS_DIR / "identity.yaml"
    monkeypatch.setattr(asyncapi, "generate", lambda _root: {document: "asyncapi: 3.0.0\n"})

    outcome = gates.asyncapi_step(Context(root=repo, options=Options()))

    assert (outcome.passed, outcome.detail) == (False, "stale: identity.yaml")


def test_asyncapi_step_documents_as_generated_passes(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = repo / asyncapi.DOCS_DIR / "identity.yaml"
    document.parent.mkdir(parents=True)
    document.write_text("asyncapi: 3.0.0\n")
    monkeypatch.setattr(asyncapi, "generate", lambda _root: {document: "asyncapi: 3.0.0\n"})

    assert gates.asyncapi_step(Context(root=repo, options=Options())) == gates.OK


def test_pytest_step_counts_tests_and_passes(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text("def test_one():\n    assert True\n")
    ctx = Context(root=tmp_path, options=Options(fast=True))

    outcome = gates.pytest_step("not integration")(ctx)

    assert outcome == gates.OK
    assert ctx.tests.passed == 1


def test_pytest_step_nothing_selected_is_no_tests_not_failure(tmp_path: Path) -> None:
    ctx = Context(root=tmp_path, options=Options(fast=True))

    outcome = gates.pytest_step("integration")(ctx)

    assert (outcome.status, outcome.passed) == ("no tests", True)


def test_pytest_step_coverage_and_workers_are_passed_on(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = RecordingExecute(0)
    monkeypatch.setattr(gates, "execute", fake)

    gates.pytest_step("integration")(Context(root=repo, options=Options(jobs="2")))

    assert set(gates.COVERAGE_ARGS) <= set(fake.calls[0])
    assert fake.calls[0][-4:] == ["-n", "2", "--dist", "loadfile"]


def test_pytest_step_default_workers_unless_jobs_given(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = RecordingExecute(0, 0)
    monkeypatch.setattr(gates, "execute", fake)
    step = gates.pytest_step("integration", default_jobs="2")

    step(Context(root=repo, options=Options()))
    step(Context(root=repo, options=Options(jobs="0")))

    assert fake.calls[0][-4:] == ["-n", "2", "--dist", "loadfile"]
    assert "-n" not in fake.calls[1]


def measure(root: Path, calls: str) -> None:
    """Write coverage data for a two-branch package ``pkg`` after running ``calls``."""
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text(
        "def sign(x):\n    if x < 0:\n        return -1\n    return 1\n"
    )
    (root / "pyproject.toml").write_text(textwrap.dedent("""
            [tool.coverage.run]
            branch = true
            source = ["pkg"]
            """))
    (root / "run.py").write_text(f"import pkg\n{calls}\n")
    command = [sys.executable, "-m", "coverage", "run", "run.py"]
    subprocess.run(command, cwd=root, check=True)


def test_coverage_step_package_below_floor_fails_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COVERAGE_FILE", raising=False)  # set when the gates run this test
    measure(tmp_path, "pkg.sign(1)")

    outcome = gates.coverage_step(Context(root=tmp_path, options=Options()))

    assert outcome.passed is False
    assert outcome.detail.startswith("below 90%: pkg ")


def test_coverage_step_everything_covered_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COVERAGE_FILE", raising=False)  # set when the gates run this test
    measure(tmp_path, "pkg.sign(1); pkg.sign(-1)")

    assert gates.coverage_step(Context(root=tmp_path, options=Options())) == gates.OK
