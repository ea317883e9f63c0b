"""buf from npm, and the ``proto-lint`` gate: installed once, run for real, skipped without npm."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from agora_cli import buf, gates
from agora_cli.config import repo_root
from agora_cli.gates import Context, Options

FAKE_NPM = textwrap.dedent("""\
    #!/bin/sh
    # Stands in for npm: records the call and "installs" a buf that reports a version.
    echo "$@" >> "$(dirname "$0")/npm-calls"
    prefix=""
    while [ "$#" -gt 0 ]; do
        [ "$1" = "--prefix" ] && prefix="$2"
        shift
    done
    mkdir -p "$prefix/node_modules/.bin"
    printf '#!/bin/sh\\necho %s\\n' "{version}" > "$prefix/node_modules/.bin/buf"
    chmod +x "$prefix/node_modules/.bin/buf"
    exit {code}
    """)


def fake_npm(directory: Path, *, version: str = buf.BUF_VERSION, code: int = 0) -> Path:
    npm = directory / "npm"
    npm.write_text(FAKE_NPM.format(version=version, code=code))
    npm.chmod(0o755)
    return npm


def npm_calls(npm: Path) -> list[str]:
    calls = npm.parent / "npm-calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_ensure_buf_installs_the_pinned_version_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    npm = fake_npm(tmp_path)
    monkeypatch.setattr(shutil, "which", lambda _name: str(npm))

    first = buf.ensure_buf(tmp_path)
    again = buf.ensure_buf(tmp_path)

    assert first == again == buf.buf_path(tmp_path)
    assert len(npm_calls(npm)) == 1
    assert f"{buf.BUF_PACKAGE}@{buf.BUF_VERSION}" in npm_calls(npm)[0]


def test_ensure_buf_replaces_another_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = buf.buf_path(tmp_path)
    old.parent.mkdir(parents=True)
    old.write_text("#!/bin/sh\necho 0.1.0\n")
    old.chmod(0o755)
    npm = fake_npm(tmp_path)
    monkeypatch.setattr(shutil, "which", lambda _name: str(npm))

    buf.ensure_buf(tmp_path)

    assert buf.installed_version(old) == buf.BUF_VERSION


def test_ensure_buf_failed_install_raises_with_npm_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    npm = fake_npm(tmp_path, code=1)
    monkeypatch.setattr(shutil, "which", lambda _name: str(npm))

    with pytest.raises(RuntimeError, match="npm could not install"):
        buf.ensure_buf(tmp_path)


def test_installed_version_of_a_broken_executable_is_none(tmp_path: Path) -> None:
    broken = tmp_path / "buf"
    broken.write_text("not a program")

    assert buf.installed_version(broken) is None
    assert buf.installed_version(tmp_path / "missing") is None


def test_proto_lint_step_without_npm_is_skipped_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)

    outcome = gates.proto_lint_step(Context(root=tmp_path, options=Options()))

    assert (outcome.status, outcome.passed) == ("skipped", True)
    assert "npm not found" in outcome.detail


@pytest.fixture(scope="module")
def real_buf() -> Path:
    """The pinned buf, installed from the npm registry into this checkout's .agora/tools."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the proto-lint gate skips too")
    return buf.ensure_buf(repo_root())


def lint_repo(root: Path, proto_text: str) -> Path:
    """A repository with the real buf.yaml and one catalog.proto holding ``proto_text``."""
    shutil.copy(repo_root() / "buf.yaml", root / "buf.yaml")
    target = root / "proto" / "agora" / "catalog" / "v1" / "catalog.proto"
    target.parent.mkdir(parents=True)
    target.write_text(proto_text)
    return target


@pytest.fixture
def catalog_proto() -> str:
    return (repo_root() / "proto/agora/catalog/v1/catalog.proto").read_text()


def run_lint(root: Path, executable: Path, monkeypatch: pytest.MonkeyPatch) -> gates.Outcome:
    monkeypatch.setattr(buf, "ensure_buf", lambda _root: executable)
    return gates.proto_lint_step(Context(root=root, options=Options()))


def test_proto_lint_step_passes_on_the_committed_proto(real_buf: Path) -> None:
    assert gates.proto_lint_step(Context(root=repo_root(), options=Options())) == gates.OK


def test_proto_lint_step_fails_on_a_nonstandard_response_name(
    tmp_path: Path, real_buf: Path, catalog_proto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lint_repo(tmp_path, catalog_proto.replace("GetProductsResponse", "ProductList"))

    outcome = run_lint(tmp_path, real_buf, monkeypatch)

    assert (outcome.passed, outcome.detail) == (False, "buf lint")


def test_proto_lint_step_fails_on_unformatted_proto(
    tmp_path: Path, real_buf: Path, catalog_proto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lint_repo(tmp_path, catalog_proto.replace("  rpc GetProducts", "rpc   GetProducts"))

    outcome = run_lint(tmp_path, real_buf, monkeypatch)

    assert (outcome.passed, outcome.detail) == (False, "buf format")
