"""Unit tests of the gates runner: step selection, outcomes, the summary, and the CLI entry."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agora_cli import audit, gates
from agora_cli.gates import Context, Options, Outcome, Step, StepResult, SuiteCounts


def passing(ctx: Context) -> Outcome:
    return gates.OK


def failing(ctx: Context) -> Outcome:
    return gates.FAILED


def crashing(ctx: Context) -> Outcome:
    raise RuntimeError("server would not start")


def make_ctx(tmp_path: Path, **options: object) -> Context:
    return Context(root=tmp_path, options=Options(**options))  # type: ignore[arg-type]


@pytest.fixture
def fake_steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace the real step table (which runs the whole toolchain) with three cheap steps."""
    steps = (
        Step("first", "first step", passing, fast=True),
        Step("broken", "broken step", failing),
        Step("last", "last step", passing, fast=True),
    )
    monkeypatch.setattr(gates, "STEPS", steps)
    monkeypatch.setattr(gates, "STEP_NAMES", tuple(step.name for step in steps))
    return [step.name for step in steps]


def names(steps: list[Step]) -> list[str]:
    return [step.name for step in steps]


def test_select_steps_default_runs_every_step_in_table_order() -> None:
    assert names(gates.select_steps(Options())) == list(gates.STEP_NAMES)


def test_select_steps_fast_keeps_linters_and_unit_tests_only() -> None:
    selected = names(gates.select_steps(Options(fast=True)))

    assert selected == ["black", "ruff", "mypy", "imports", "bandit", "unit"]


def test_select_steps_only_keeps_table_order_not_argument_order() -> None:
    selected = gates.select_steps(Options(only=frozenset({"unit", "black"})))

    assert names(selected) == ["black", "unit"]


def test_select_steps_only_with_fast_only_wins() -> None:
    selected = gates.select_steps(Options(only=frozenset({"pip-audit"}), fast=True))

    assert names(selected) == ["pip-audit"]


def test_wants_coverage_fast_run_measures_nothing() -> None:
    assert gates.wants_coverage(Options(fast=True)) is False
    assert gates.wants_coverage(Options()) is True


def test_parse_options_only_list_is_split_and_trimmed() -> None:
    options = gates.parse_options(["--only", " unit, ruff ", "--fail-fast", "-n", "auto"])

    assert options == Options(only=frozenset({"unit", "ruff"}), fail_fast=True, jobs="auto")


def test_parse_options_unknown_step_exits_with_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        gates.parse_options(["--only", "lint"])

    assert exit_info.value.code == 2
    assert "unknown step(s) lint" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("code", "status", "passed"),
    [(0, "ok", True), (5, "no tests", True), (1, "FAILED", False), (2, "FAILED", False)],
)
def test_pytest_outcome_exit_code_maps_to_status(code: int, status: str, passed: bool) -> None:
    outcome = gates.pytest_outcome(code)

    assert (outcome.status, outcome.passed) == (status, passed)


def test_suite_counts_summary_lines_are_summed_with_errors_as_failures() -> None:
    counts = SuiteCounts()

    counts.add_summary("==== 12 passed, 2 skipped, 3 deselected in 1.20s ====")
    counts.add_summary("==== 1 failed, 4 passed, 1 error in 9.00s ====")

    assert counts == SuiteCounts(passed=16, failed=2, skipped=2)


def test_suite_counts_line_without_counts_changes_nothing() -> None:
    counts = SuiteCounts()

    counts.add_summary("ERROR: file or directory not found: nowhere")

    assert counts == SuiteCounts()


def test_run_steps_default_continues_after_a_failure(tmp_path: Path) -> None:
    steps = [Step("a", "a", failing), Step("b", "b", passing)]

    results = gates.run_steps(make_ctx(tmp_path), steps)

    assert [r.outcome.status for r in results] == ["FAILED", "ok"]


def test_run_steps_fail_fast_stops_at_first_failure(tmp_path: Path) -> None:
    steps = [Step("a", "a", failing), Step("b", "b", passing)]

    results = gates.run_steps(make_ctx(tmp_path, fail_fast=True), steps)

    assert names([r.step for r in results]) == ["a"]


def test_run_steps_crashing_step_is_reported_as_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = gates.run_steps(make_ctx(tmp_path), [Step("db", "database", crashing)])

    assert results[0].outcome.passed is False
    assert results[0].outcome.detail == "RuntimeError: server would not start"
    assert "[1/1] database ... FAILED" in capsys.readouterr().out


def test_summary_lists_each_step_then_closes_with_test_counts() -> None:
    results = [
        StepResult(Step("ruff", "ruff", passing), gates.OK, 1.25),
        StepResult(Step("unit", "unit", failing), Outcome("FAILED", False, "exit 1"), 3.0),
    ]

    table = gates.summary(results, [Step("coverage", "cov", passing)], SuiteCounts(7, 1, 2))
    lines = table.splitlines()

    assert lines[1].split() == ["ruff", "ok", "1.2s"]
    assert lines[2].split() == ["unit", "FAILED", "3.0s", "exit", "1"]
    assert lines[3].split() == ["coverage", "not", "run"]
    assert lines[4].split() == ["total", "FAILED", "4.2s"]
    assert lines[-2] == "gates: 1 passed, 1 failed"
    assert lines[-1] == "tests: 7 passed, 1 failed, 2 skipped"


def test_execute_streams_output_and_returns_code_and_last_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = "import sys; print('first'); print('== 3 passed in 0.1s =='); print(); sys.exit(3)"

    code, last = gates.execute(make_ctx(tmp_path), [sys.executable, "-c", script])

    assert (code, last) == (3, "== 3 passed in 0.1s ==")
    assert "first" in capsys.readouterr().out


def test_command_step_nonzero_exit_fails(tmp_path: Path) -> None:
    step = gates.command_step(sys.executable, "-c", "raise SystemExit(1)")

    assert step(make_ctx(tmp_path)) == gates.FAILED


def test_source_dirs_finds_every_package_src(tmp_path: Path) -> None:
    for directory in ("libs/chassis/src", "services/identity/src", "cli/src", "docs/src"):
        (tmp_path / directory).mkdir(parents=True)

    assert gates.source_dirs(tmp_path) == ["cli/src", "libs/chassis/src", "services/identity/src"]


def test_tool_unknown_name_falls_back_to_path_lookup() -> None:
    assert gates.tool("no-such-tool-here") == "no-such-tool-here"
    assert Path(gates.tool("pytest")).is_absolute()


def test_find_root_from_subdirectory_finds_lock(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").touch()
    nested = tmp_path / "services" / "identity"
    nested.mkdir(parents=True)

    assert gates.find_root(nested) == tmp_path


def test_find_root_outside_repo_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no uv\.lock"):
        gates.find_root(tmp_path)


def test_pip_audit_step_unreachable_without_reason_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "service_reachable", lambda: False)
    ctx = make_ctx(tmp_path)
    ctx.environ = {}

    outcome = gates.pip_audit_step(ctx)

    assert (outcome.passed, outcome.detail) == (False, "vulnerability service unreachable")


def test_pip_audit_step_unreachable_with_reason_skips_and_prints_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(audit, "service_reachable", lambda: False)
    ctx = make_ctx(tmp_path)
    ctx.environ = {audit.SKIP_ENV: "offline build machine"}

    outcome = gates.pip_audit_step(ctx)

    assert (outcome.status, outcome.passed) == ("skipped", True)
    assert "offline build machine" in capsys.readouterr().out


def test_pip_audit_step_unreachable_with_recorded_reason_skips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(audit, "service_reachable", lambda: False)
    ctx = make_ctx(tmp_path)
    ctx.environ = {}
    (tmp_path / ".ci").mkdir(exist_ok=True)
    (tmp_path / audit.IGNORE_FILE).write_text('unreachable_reason = "no API here"\nignore = []\n')

    outcome = gates.pip_audit_step(ctx)

    assert (outcome.status, outcome.passed, outcome.detail) == ("skipped", True, "no API here")
    assert "no API here" in capsys.readouterr().out


def test_alembic_step_no_service_migrations_is_skipped(tmp_path: Path) -> None:
    outcome = gates.alembic_step(make_ctx(tmp_path))

    assert (outcome.status, outcome.passed) == ("skipped", True)


def test_run_all_steps_one_failure_exits_one_and_prints_summary(
    fake_steps: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "uv.lock").touch()
    monkeypatch.chdir(tmp_path)

    code = gates.run([])

    out = capsys.readouterr().out
    assert code == 1
    assert "[2/3] broken step ... FAILED" in out
    assert out.rstrip().endswith("tests: 0 passed, 0 failed, 0 skipped")


def test_run_only_passing_steps_exits_zero(
    fake_steps: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "uv.lock").touch()
    monkeypatch.chdir(tmp_path)

    assert gates.run(["--only", "first,last"]) == 0


def test_run_bad_argument_exits_two(fake_steps: list[str]) -> None:
    assert gates.run(["--only", "nonsense"]) == 2


def test_run_with_coverage_step_removes_stale_coverage_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gates, "STEPS", (Step("coverage", "coverage", passing),))
    monkeypatch.setattr(gates, "STEP_NAMES", ("coverage",))
    (tmp_path / "uv.lock").touch()
    data_dir = tmp_path / gates.COVERAGE_DATA.parent
    data_dir.mkdir(parents=True)
    stale = [data_dir / ".coverage", data_dir / ".coverage.host.123"]
    for path in stale:
        path.touch()
    monkeypatch.chdir(tmp_path)

    assert gates.run([]) == 0
    assert not any(path.exists() for path in stale)
