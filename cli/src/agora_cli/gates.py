"""``agora test``: every quality gate CI runs, in one command.

Steps run in a fixed order (formatters and linters, type checks, security, migrations, tests,
coverage). By default every step runs even after a failure, so one run shows every problem; the
exit status is non-zero when any step failed. ``--fast`` keeps to the quick local loop,
``--only`` picks steps by name, ``--fail-fast`` stops at the first failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agora_cli import asyncapi, audit, browsers, buf, proto, testdb

# pytest's "no tests were collected": not a failure for a step that selects a subset of the suite.
PYTEST_NO_TESTS = 5
COVERAGE_FLOOR = 90
COVERAGE_DATA = Path(".agora/gates/.coverage")
UNIT_MARKERS = "not integration and not system"
SERVER_MARKERS = "integration or system"
SERVER_TEST_WORKERS = "2"
UNIT_TEST_WORKERS = "2"
COVERAGE_ARGS = ("--cov", "--cov-branch", "--cov-append", "--cov-report=", "--cov-fail-under=0")
_PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped)")


@dataclass(frozen=True)
class Options:
    """What the user asked for on the command line."""

    only: frozenset[str] = frozenset()
    fast: bool = False
    fail_fast: bool = False
    jobs: str | None = None


@dataclass
class SuiteCounts:
    """Test outcomes summed over every pytest run, for the closing line."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def add_summary(self, line: str) -> None:
        """Add the counts from pytest's final ``=== 3 passed, 1 skipped in 2.1s ===`` line."""
        for number, word in _PYTEST_COUNT.findall(line):
            if word == "passed":
                self.passed += int(number)
            elif word == "skipped":
                self.skipped += int(number)
            else:
                self.failed += int(number)


@dataclass
class Context:
    """What every step may use: where the repository is, the options, the running counts."""

    root: Path
    options: Options
    tests: SuiteCounts = field(default_factory=SuiteCounts)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True)
class Outcome:
    """How one step ended. ``passed`` is False only for a real failure."""

    status: str
    passed: bool
    detail: str = ""


OK = Outcome("ok", passed=True)
FAILED = Outcome("FAILED", passed=False)


@dataclass(frozen=True)
class Step:
    """One gate: a name for ``--only``, a title for the progress line, and what it runs."""

    name: str
    title: str
    run: Callable[[Context], Outcome]
    fast: bool = False


@dataclass(frozen=True)
class StepResult:
    """A step with its outcome and wall time, a row of the summary table."""

    step: Step
    outcome: Outcome
    seconds: float


def say(*parts: str, flush: bool = True) -> None:
    """Write one line to stdout; the gates talk to a terminal or a CI log, not to a logger."""
    sys.stdout.write(" ".join(parts) + "\n")
    if flush:
        sys.stdout.flush()


def tool(name: str) -> str:
    """Path of a console script installed beside the running interpreter, else its bare name."""
    candidate = Path(sysconfig.get_path("scripts")) / name
    return str(candidate) if candidate.exists() else name


def execute(
    ctx: Context,
    argv: Sequence[str],
    cwd: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """Run ``argv``, streaming its output, and return its exit code and last non-empty line.

    The last line is kept because pytest puts its counts there.
    """
    say("  $", " ".join(argv), flush=True)
    env = {**ctx.environ, **(extra_env or {})}
    last = ""
    with subprocess.Popen(  # noqa: S603 - argv comes from the step table, never from a shell
        list(argv),
        cwd=cwd or ctx.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as child:
        assert child.stdout is not None  # noqa: S101 - guaranteed by stdout=PIPE
        for line in child.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            last = line.strip() or last
    return child.returncode, last


def command_step(*argv_parts: str) -> Callable[[Context], Outcome]:
    """A step that passes when one command (a tool from the venv plus arguments) exits 0."""

    def run(ctx: Context) -> Outcome:
        code, _ = execute(ctx, [tool(argv_parts[0]), *argv_parts[1:]])
        return OK if code == 0 else FAILED

    return run


def source_dirs(root: Path) -> list[str]:
    """Every package's ``src`` directory, relative to the repository root."""
    patterns = ("libs/*/src", "services/*/src", "cli/src")
    return sorted(str(path.relative_to(root)) for p in patterns for path in root.glob(p))


def mypy_step(ctx: Context) -> Outcome:
    """mypy --strict over every package's sources."""
    code, _ = execute(ctx, [tool("mypy"), "--strict", *source_dirs(ctx.root)])
    return OK if code == 0 else FAILED


def bandit_step(ctx: Context) -> Outcome:
    """bandit over every package's sources; medium and high severity fail."""
    argv = [tool("bandit"), "-c", "pyproject.toml", "-r", *source_dirs(ctx.root)]
    code, _ = execute(ctx, [*argv, "--severity-level", "medium", "--quiet"])
    return OK if code == 0 else FAILED


def pip_audit_step(ctx: Context) -> Outcome:
    """pip-audit over ``uv.lock``, with the reviewed ignores from ``.ci/pip-audit-ignore.toml``."""
    ignores = audit.load_ignores(ctx.root / audit.IGNORE_FILE, dt.datetime.now(dt.UTC).date())
    for ignore in ignores:
        say(f"  ignoring {ignore.id} (until {ignore.until or 'reviewed'}): {ignore.reason}")
    if not audit.service_reachable():
        reason = ctx.environ.get(audit.SKIP_ENV, "").strip() or audit.unreachable_reason(
            ctx.root / audit.IGNORE_FILE
        )
        if reason:
            say(f"  vulnerability service unreachable; skipped because: {reason}")
            return Outcome("skipped", passed=True, detail=reason)
        say(f"  PyPI's vulnerability service is unreachable; set {audit.SKIP_ENV}=<reason>")
        return Outcome("FAILED", passed=False, detail="vulnerability service unreachable")
    with tempfile.TemporaryDirectory(prefix="agora-audit-") as scratch:
        requirements = Path(scratch) / "requirements.txt"
        code, _ = execute(ctx, audit.export_command(requirements))
        if code != 0:
            return Outcome("FAILED", passed=False, detail="uv export failed")
        code, _ = execute(ctx, audit.audit_command(tool("pip-audit"), requirements, ignores))
    return OK if code == 0 else FAILED


def alembic_step(ctx: Context) -> Outcome:
    """For each service with migrations: upgrade a fresh database to head, then ``alembic check``.

    ``alembic check`` fails when the models differ from what the migrations build, i.e. when
    someone changed a model and forgot the migration.
    """
    configs = sorted(ctx.root.glob("services/*/alembic.ini"))
    if not configs:
        return Outcome("skipped", passed=True, detail="no services/*/alembic.ini")
    failures: list[str] = []
    with testdb.postgres_superuser() as superuser_url:
        failures += [c.parent.name for c in configs if not check_migrations(ctx, superuser_url, c)]
    if failures:
        return Outcome("FAILED", passed=False, detail="migrations: " + ", ".join(failures))
    return OK


def check_migrations(ctx: Context, superuser_url: str, config: Path) -> bool:
    """Upgrade a new empty database with one service's migrations and compare with its models."""
    prefix = "gates_" + re.sub(r"[^a-z0-9_]", "_", config.parent.name.lower())
    database_url = testdb.create_database(superuser_url, prefix)
    env = {"AGORA_DATABASE_URL": database_url}
    try:
        alembic = [tool("alembic"), "-c", config.name]
        for action in (["upgrade", "head"], ["check"]):
            code, _ = execute(ctx, [*alembic, *action], cwd=config.parent, extra_env=env)
            if code != 0:
                return False
    finally:
        testdb.drop_database(superuser_url, database_url)
    return True


class GeneratedFiles(Protocol):
    """A module owning committed generated files: ``asyncapi`` (documents), ``proto`` (stubs)."""

    def check(self, root: Path) -> list[Path]:
        """The committed files that differ from a fresh generation."""
        ...

    def stale_message(self, root: Path, stale: list[Path]) -> str:
        """What is stale and the command that regenerates it."""
        ...


def up_to_date_step(generator: GeneratedFiles) -> Callable[[Context], Outcome]:
    """A step failing, with the fix command, when ``generator``'s committed files are stale."""

    def run(ctx: Context) -> Outcome:
        stale = generator.check(ctx.root)
        if stale:
            say(f"  {generator.stale_message(ctx.root, stale)}")
            names = ", ".join(path.name for path in stale)
            return Outcome("FAILED", passed=False, detail=f"stale: {names}")
        return OK

    return run


asyncapi_step = up_to_date_step(asyncapi)
"""The AsyncAPI documents in ``docs/asyncapi`` are what the services' code generates."""
proto_step = up_to_date_step(proto)
"""The gRPC stubs in ``agora_contracts.grpc`` are what ``proto/`` generates (byte for byte)."""


def proto_lint_step(ctx: Context) -> Outcome:
    """``buf lint`` and ``buf format --diff`` over ``proto/``; skipped, saying why, without npm."""
    try:
        executable = buf.ensure_buf(ctx.root)
    except buf.BufUnavailableError as error:
        say(f"  skipped because: {error}")
        return Outcome("skipped", passed=True, detail=str(error))
    checks = buf.commands(executable)
    failed = [
        name
        for name, argv in (("lint", checks.lint), ("format", checks.format_check))
        if execute(ctx, argv)[0] != 0
    ]
    return Outcome("FAILED", passed=False, detail="buf " + ", ".join(failed)) if failed else OK


def pytest_step(markers: str, default_jobs: str = "0") -> Callable[[Context], Outcome]:
    """A pytest run over the tests selected by ``markers``; no test selected is not a failure.

    Args:
        markers: The pytest ``-m`` expression.
        default_jobs: pytest-xdist workers unless ``--jobs`` says otherwise ("0": none). Workers
            take whole test files (``--dist loadfile``), so a module's shared stack stays in one.
    """

    def run(ctx: Context) -> Outcome:
        argv = [tool("pytest"), "-m", markers, "-p", "no:cacheprovider"]
        if wants_coverage(ctx.options):
            argv += COVERAGE_ARGS
        jobs = ctx.options.jobs if ctx.options.jobs is not None else default_jobs
        if jobs != "0":
            argv += ["-n", jobs, "--dist", "loadfile"]
        if sys.stdout.isatty():
            argv.append("--color=yes")
        code, last = execute(ctx, argv)
        ctx.tests.add_summary(last)
        return pytest_outcome(code)

    return run


def pytest_outcome(code: int) -> Outcome:
    """Map a pytest exit code to an outcome: 0 passes, 5 (nothing collected) passes as such."""
    if code == 0:
        return OK
    if code == PYTEST_NO_TESTS:
        return Outcome("no tests", passed=True)
    return Outcome("FAILED", passed=False, detail=f"pytest exit code {code}")


def coverage_step(ctx: Context) -> Outcome:
    """Check the coverage both pytest runs collected, once: in total and for every package."""
    code, last = execute(ctx, [tool("coverage"), "report", f"--fail-under={COVERAGE_FLOOR}"])
    low = {
        package: percent
        for package, percent in package_coverage(ctx).items()
        if percent < COVERAGE_FLOOR
    }
    if low:
        listing = ", ".join(f"{package} {percent:.1f}%" for package, percent in sorted(low.items()))
        return Outcome("FAILED", passed=False, detail=f"below {COVERAGE_FLOOR}%: {listing}")
    return OK if code == 0 else Outcome("FAILED", passed=False, detail=last)


def package_coverage(ctx: Context) -> dict[str, float]:
    """Line+branch coverage of each package in ``[tool.coverage.run] source`` (the floor is per
    package, so a well-tested package cannot hide an untested one)."""
    config = tomllib.loads((ctx.root / "pyproject.toml").read_text(encoding="utf-8"))
    packages: list[str] = config["tool"]["coverage"]["run"]["source"]
    totals = {}
    for package in packages:
        argv = [tool("coverage"), "report", "--format=total", f"--include=*/{package}/*"]
        done = subprocess.run(  # noqa: S603 - fixed argv
            argv, cwd=ctx.root, env=dict(ctx.environ), capture_output=True, text=True, check=False
        )
        # "No data to report" means nothing of the package was measured: only the total can tell.
        if done.returncode == 0:
            totals[package] = float(done.stdout.strip())
    return totals


def wants_coverage(options: Options) -> bool:
    """Coverage is measured only when the coverage step will read it (not with ``--fast``)."""
    return "coverage" in {step.name for step in select_steps(options)}


STEPS: tuple[Step, ...] = (
    Step("black", "black --check", command_step("black", "--check", "--quiet", "."), fast=True),
    Step("ruff", "ruff check", command_step("ruff", "check", "."), fast=True),
    Step("mypy", "mypy --strict", mypy_step, fast=True),
    Step("imports", "lint-imports", command_step("lint-imports", "--no-cache"), fast=True),
    Step("bandit", "bandit (medium+)", bandit_step, fast=True),
    Step("pip-audit", "pip-audit (uv.lock)", pip_audit_step),
    Step("alembic", "alembic upgrade + check", alembic_step),
    Step("asyncapi", "AsyncAPI docs up to date", asyncapi_step),
    Step("proto", "gRPC stubs up to date", proto_step),
    Step("proto-lint", "buf lint + format (proto/)", proto_lint_step),
    # Unit tests are CPU-bound: two workers on two cores took 90 instead of 127 s (2026-12-07).
    Step(
        "unit", "pytest unit", pytest_step(UNIT_MARKERS, default_jobs=UNIT_TEST_WORKERS), fast=True
    ),
    Step("browsers", "Chromium + axe-core for tests/browser", browsers.step),
    # Server tests mostly wait (on servers, stacks booting, deadline polls): two workers overlap
    # the waiting on two cores (about 7.5 instead of 11 minutes).
    Step(
        "integration",
        "pytest integration + system",
        pytest_step(SERVER_MARKERS, default_jobs=SERVER_TEST_WORKERS),
    ),
    Step("coverage", f"coverage >= {COVERAGE_FLOOR}%", coverage_step),
)
STEP_NAMES = tuple(step.name for step in STEPS)


def select_steps(options: Options) -> list[Step]:
    """The steps to run, in table order: ``--only`` wins over ``--fast``, which wins over all."""
    if options.only:
        return [step for step in STEPS if step.name in options.only]
    if options.fast:
        return [step for step in STEPS if step.fast]
    return list(STEPS)


def run_steps(ctx: Context, steps: Sequence[Step]) -> list[StepResult]:
    """Run ``steps`` in order with a progress line each; stop early only with ``--fail-fast``."""
    results: list[StepResult] = []
    for index, step in enumerate(steps, start=1):
        label = f"[{index}/{len(steps)}] {step.title}"
        say(f"\n{label} ...", flush=True)
        started = time.monotonic()
        try:
            outcome = step.run(ctx)
        except Exception as error:  # noqa: BLE001 - a crashing step is a failed gate, not a crash
            outcome = Outcome("FAILED", passed=False, detail=f"{type(error).__name__}: {error}")
        seconds = time.monotonic() - started
        results.append(StepResult(step, outcome, seconds))
        detail = f" - {outcome.detail}" if outcome.detail else ""
        say(f"{label} ... {outcome.status} ({seconds:.1f}s){detail}", flush=True)
        if ctx.options.fail_fast and not outcome.passed:
            break
    return results


def summary(results: Sequence[StepResult], skipped: Sequence[Step], tests: SuiteCounts) -> str:
    """The table printed at the end: one row per step, then totals; last line counts the tests."""
    width = max([len(r.step.name) for r in results] + [len(s.name) for s in skipped] + [5])
    rows = [f"{'step':<{width}}  {'result':<8}  {'time':>7}  detail"]
    for result in results:
        outcome = result.outcome
        seconds = f"{result.seconds:.1f}s"
        rows.append(
            f"{result.step.name:<{width}}  {outcome.status:<8}  {seconds:>7}  {outcome.detail}"
        )
    rows += [f"{step.name:<{width}}  {'not run':<8}" for step in skipped]
    failed = sum(not result.outcome.passed for result in results)
    total = sum(result.seconds for result in results)
    rows.append(f"{'total':<{width}}  {'FAILED' if failed else 'ok':<8}  {total:>6.1f}s")
    rows.append(f"gates: {len(results) - failed} passed, {failed} failed")
    rows.append(f"tests: {tests.passed} passed, {tests.failed} failed, {tests.skipped} skipped")
    return "\n".join(rows)


def parse_options(argv: Sequence[str]) -> Options:
    """Parse ``agora test`` arguments (exits with status 2 on a bad one, like any CLI)."""
    parser = argparse.ArgumentParser(prog="agora test", description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="linters and unit tests only")
    parser.add_argument("--only", default="", help=f"comma-separated steps: {','.join(STEP_NAMES)}")
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first failure")
    parser.add_argument(
        "-n",
        "--jobs",
        default=None,
        help="pytest-xdist workers for every test step ('auto', a number, 0 = off; "
        "default: 2 for both)",
    )
    args = parser.parse_args(list(argv))
    only = frozenset(name.strip() for name in args.only.split(",") if name.strip())
    unknown = sorted(only - set(STEP_NAMES))
    if unknown:
        parser.error(f"unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEP_NAMES)}")
    return Options(only=only, fast=args.fast, fail_fast=args.fail_fast, jobs=args.jobs)


def find_root(start: Path) -> Path:
    """The workspace root: the nearest directory at or above ``start`` holding ``uv.lock``."""
    for directory in (start, *start.parents):
        if (directory / "uv.lock").exists():
            return directory
    raise FileNotFoundError(f"no uv.lock at or above {start}; run agora test inside the repo")


def run(argv: list[str]) -> int:
    """Run the quality gates; the entry point of ``agora test``.

    Args:
        argv: Arguments after ``test`` (``--fast``, ``--only a,b``, ``--fail-fast``, ``-n N``).

    Returns:
        0 when every selected step passed, 1 when any failed, 2 for bad arguments.
    """
    try:
        options = parse_options(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    root = find_root(Path.cwd())
    data_file = root / COVERAGE_DATA
    # A data file of its own, so that an ad-hoc `pytest --cov` in the same tree cannot erase it.
    ctx = Context(
        root=root, options=options, environ={**os.environ, "COVERAGE_FILE": str(data_file)}
    )
    steps = select_steps(options)
    if wants_coverage(options):
        # Both pytest runs append to one data file; start from nothing so old runs never count.
        data_file.parent.mkdir(parents=True, exist_ok=True)
        for stale in data_file.parent.glob(".coverage*"):
            stale.unlink()
    results = run_steps(ctx, steps)
    say("\n" + summary(results, steps[len(results) :], ctx.tests), flush=True)
    return 0 if all(result.outcome.passed for result in results) else 1


if __name__ == "__main__":  # pragma: no cover - `python -m agora_cli.gates`, used by pre-commit
    raise SystemExit(run(sys.argv[1:]))
