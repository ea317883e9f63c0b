"""``agora proto``: stubs generated from proto/ into agora_contracts.grpc; the staleness check."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from agora_cli import gates, proto
from agora_cli.config import repo_root
from agora_cli.gates import Context, Options
from agora_cli.main import main

STUBS = proto.OUTPUT_DIR / "catalog" / "v1"


@pytest.fixture(scope="module")
def generated() -> dict[Path, bytes]:
    """One real generation from the repository's own .proto files (protoc takes a moment)."""
    return proto.generate(repo_root())


@pytest.fixture
def repo(tmp_path: Path, generated: dict[Path, bytes]) -> tuple[Path, dict[Path, bytes]]:
    """An empty repository root and the generated files, renamed to live under it."""
    root = repo_root()
    return tmp_path, {tmp_path / path.relative_to(root): data for path, data in generated.items()}


def test_committed_stubs_are_what_the_proto_generates() -> None:
    assert main(["proto", "--check"]) == 0


def test_generate_writes_modules_stubs_and_package_inits(generated: dict[Path, bytes]) -> None:
    relative = {path.relative_to(repo_root()) for path in generated}

    assert relative == {
        proto.OUTPUT_DIR / "__init__.py",
        *(proto.OUTPUT_DIR / domain / "__init__.py" for domain in ("catalog", "basket")),
        *(
            proto.OUTPUT_DIR / domain / "v1" / name
            for domain in ("catalog", "basket")
            for name in (
                "__init__.py",
                f"{domain}_pb2.py",
                f"{domain}_pb2.pyi",
                f"{domain}_pb2_grpc.py",
                f"{domain}_pb2_grpc.pyi",
            )
        ),
    }


def test_generated_grpc_module_imports_from_agora_contracts(generated: dict[Path, bytes]) -> None:
    text = generated[repo_root() / STUBS / "catalog_pb2_grpc.py"].decode()

    assert "from agora_contracts.grpc.catalog.v1 import catalog_pb2 as" in text
    assert "'/agora.catalog.v1.CatalogService/GetProducts'" in text
    assert "from agora.catalog" not in text


def test_rewrite_imports_moves_module_paths_and_keeps_proto_names() -> None:
    source = (
        "from agora.catalog.v1 import catalog_pb2 as _pb2\n"
        "import agora.common.v1.money_pb2\n"
        "x: agora.common.v1.money_pb2.Money\n"
        "_builder(DESCRIPTOR, 'agora.catalog.v1.catalog_pb2', _globals)\n"
        "'/agora.catalog.v1.CatalogService/GetProducts'\n"
    )

    assert proto.rewrite_imports(source) == (
        "from agora_contracts.grpc.catalog.v1 import catalog_pb2 as _pb2\n"
        "import agora_contracts.grpc.common.v1.money_pb2\n"
        "x: agora_contracts.grpc.common.v1.money_pb2.Money\n"
        "_builder(DESCRIPTOR, 'agora_contracts.grpc.catalog.v1.catalog_pb2', _globals)\n"
        "'/agora.catalog.v1.CatalogService/GetProducts'\n"
    )


def test_stale_files_names_changed_missing_and_orphaned(
    repo: tuple[Path, dict[Path, bytes]],
) -> None:
    root, files = repo
    proto.write_files(root, files)
    changed = root / STUBS / "catalog_pb2.py"
    changed.write_bytes(b"# edited by hand\n")
    missing = root / STUBS / "catalog_pb2.pyi"
    missing.unlink()
    orphan = root / proto.OUTPUT_DIR / "old" / "v1" / "old_pb2.py"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("")

    assert proto.stale_files(root, files) == sorted([changed, missing, orphan])


def test_write_files_makes_the_tree_exactly_the_generated_one(
    repo: tuple[Path, dict[Path, bytes]],
) -> None:
    root, files = repo
    orphan = root / proto.OUTPUT_DIR / "stray.py"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("")

    written = proto.write_files(root, files)

    assert set(written) == {*files, orphan}
    assert not orphan.exists()
    assert proto.stale_files(root, files) == []


def test_generate_without_proto_files_fails(tmp_path: Path) -> None:
    (tmp_path / proto.PROTO_DIR).mkdir()

    with pytest.raises(proto.GenerationError, match=r"no \.proto files"):
        proto.generate(tmp_path)


def test_generate_invalid_proto_fails_with_protoc_message(tmp_path: Path) -> None:
    broken = tmp_path / proto.PROTO_DIR / "agora" / "x" / "v1" / "x.proto"
    broken.parent.mkdir(parents=True)
    broken.write_text('syntax = "proto3";\nmessage {\n')

    with pytest.raises(proto.GenerationError, match=r"protoc failed:\n.*x\.proto"):
        proto.generate(tmp_path)


def fake_repo(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Point ``agora proto`` at ``root``, holding a copy of the real proto/."""
    shutil.copytree(repo_root() / proto.PROTO_DIR, root / proto.PROTO_DIR)
    monkeypatch.setattr(proto, "repo_root", lambda: root)


def test_cmd_proto_check_on_stale_tree_fails_naming_files_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_repo(monkeypatch, tmp_path)

    code = proto.cmd_proto(argparse.Namespace(check=True))

    error = capsys.readouterr().err
    assert code == 1
    assert str(STUBS / "catalog_pb2_grpc.py") in error
    assert f"run `{proto.FIX_COMMAND}`" in error


def test_cmd_proto_writes_then_check_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_repo(monkeypatch, tmp_path)

    written = proto.cmd_proto(argparse.Namespace(check=False))
    checked = proto.cmd_proto(argparse.Namespace(check=True))

    assert (written, checked) == (0, 0)
    assert "13 changed" in capsys.readouterr().out


def test_cmd_proto_reports_generation_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / proto.PROTO_DIR).mkdir()
    monkeypatch.setattr(proto, "repo_root", lambda: tmp_path)

    assert proto.cmd_proto(argparse.Namespace(check=True)) == 1
    assert "no .proto files" in capsys.readouterr().err


def test_proto_step_stale_stubs_fail_naming_them(
    repo: tuple[Path, dict[Path, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, files = repo
    monkeypatch.setattr(proto, "generate", lambda _root: files)

    outcome = gates.proto_step(Context(root=root, options=Options()))

    assert not outcome.passed
    assert "catalog_pb2.py" in outcome.detail


def test_proto_step_fresh_stubs_pass(
    repo: tuple[Path, dict[Path, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, files = repo
    proto.write_files(root, files)
    monkeypatch.setattr(proto, "generate", lambda _root: files)

    assert gates.proto_step(Context(root=root, options=Options())) == gates.OK
