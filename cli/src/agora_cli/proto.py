"""``agora proto``: the Python gRPC stubs in ``agora_contracts.grpc``, generated from ``proto/``.

The ``.proto`` files live where buf wants them, one directory per package
(``proto/agora/catalog/v1/catalog.proto`` for ``agora.catalog.v1``). ``grpc_tools.protoc`` (with
mypy-protobuf for the ``.pyi`` stubs) names the Python modules after that path
(``agora.catalog.v1.catalog_pb2``), which is not an importable package here. So the output is
moved from ``agora/...`` to ``agora_contracts/grpc/...`` and the generated module references are
rewritten to match (``from agora.catalog.v1 import catalog_pb2`` becomes
``from agora_contracts.grpc.catalog.v1 import catalog_pb2``); proto names such as
``/agora.catalog.v1.CatalogService/GetProducts`` are left alone. Each package directory gets an
``__init__.py``. The tool versions are pinned in ``uv.lock``, so the bytes are reproducible:
``--check`` regenerates into memory and fails when a committed file differs, is missing, or is
no longer generated.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from agora_cli.config import repo_root
from agora_cli.generated import GeneratedTree
from agora_cli.ui import warn

PROTO_DIR = Path("proto")
PROTO_PACKAGE = "agora"
"""The first segment of every proto package: ``proto/agora/<domain>/v<N>/*.proto``."""
OUTPUT_DIR = Path("libs/contracts/src/agora_contracts/grpc")
PYTHON_PACKAGE = "agora_contracts.grpc"
FIX_COMMAND = "./agora proto"
TREE = GeneratedTree("gRPC stubs", OUTPUT_DIR, "**/*", FIX_COMMAND)
INIT_TEXT = '"""Generated gRPC stubs (``./agora proto``); do not edit."""\n'
MYPY_PLUGINS = ("protoc-gen-mypy", "protoc-gen-mypy_grpc")

# `from agora.catalog.v1 import catalog_pb2`: an import of a generated module.
_FROM_IMPORT = re.compile(rf"^from {PROTO_PACKAGE}\.([\w.]+) import ", re.MULTILINE)
# `agora.catalog.v1.catalog_pb2` anywhere else (module names in strings and annotations). Proto
# names never end in `_pb2`, so RPC paths and type URLs are not touched.
_MODULE_PATH = re.compile(rf"\b{PROTO_PACKAGE}\.((?:\w+\.)*\w+_pb2)\b")


class GenerationError(RuntimeError):
    """protoc failed or is not installed."""


def proto_files(root: Path) -> list[Path]:
    """Every ``.proto`` file under ``proto/``, relative to it, sorted (the order is part of
    reproducibility)."""
    return sorted(
        path.relative_to(root / PROTO_DIR) for path in (root / PROTO_DIR).rglob("*.proto")
    )


def protoc_argv(python: str, out_dir: Path, files: list[Path]) -> list[str]:
    """The ``grpc_tools.protoc`` command line generating messages, services and their stubs."""
    scripts = Path(sysconfig.get_path("scripts"))
    plugins = [f"--plugin={name}={scripts / name}" for name in MYPY_PLUGINS]
    outputs = [f"--{kind}_out={out_dir}" for kind in ("python", "grpc_python", "mypy", "mypy_grpc")]
    return [python, "-m", "grpc_tools.protoc", "-I.", *plugins, *outputs, *map(str, files)]


def rewrite_imports(text: str) -> str:
    """Point references to generated modules at ``agora_contracts.grpc``."""
    text = _FROM_IMPORT.sub(rf"from {PYTHON_PACKAGE}.\1 import ", text)
    return _MODULE_PATH.sub(rf"{PYTHON_PACKAGE}.\1", text)


def _run_protoc(root: Path, out_dir: Path) -> None:
    files = proto_files(root)
    if not files:
        raise GenerationError(f"no .proto files under {PROTO_DIR}")
    done = subprocess.run(  # noqa: S603 - argv from fixed parts and the repository's own files
        protoc_argv(sys.executable, out_dir, files),
        cwd=root / PROTO_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        hint = " (is grpcio-tools installed? run `uv sync`)" if "No module" in done.stderr else ""
        raise GenerationError(f"protoc failed{hint}:\n{done.stderr.strip()}")


def generate(root: Path) -> dict[Path, bytes]:
    """Run protoc over ``proto/`` and return what belongs in ``agora_contracts/grpc``.

    Args:
        root: The repository root.

    Returns:
        Each generated file's path (under ``root``) and its bytes, ``__init__.py`` files included.

    Raises:
        GenerationError: protoc failed.
    """
    output = root / OUTPUT_DIR
    files: dict[Path, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="agora-proto-") as scratch:
        _run_protoc(root, Path(scratch))
        generated = Path(scratch) / PROTO_PACKAGE
        for path in sorted(generated.rglob("*")):
            if path.is_file():
                text = rewrite_imports(path.read_text(encoding="utf-8"))
                files[output / path.relative_to(generated)] = text.encode()
    packages = {output} | {
        parent for path in files for parent in path.parents if output in parent.parents
    }
    for package in packages:
        files[package / "__init__.py"] = INIT_TEXT.encode()
    return dict(sorted(files.items()))


def stale_files(root: Path, files: dict[Path, bytes]) -> list[Path]:
    """The committed files that are not what protoc generates: different, missing, or orphaned
    (a file under ``agora_contracts/grpc`` that is no longer generated), sorted."""
    return TREE.stale(root, files)


def write_files(root: Path, files: dict[Path, bytes]) -> list[Path]:
    """Make ``agora_contracts/grpc`` hold exactly ``files``; return the paths written or removed."""
    return TREE.write(root, files)


def check(root: Path) -> list[Path]:
    """Generate the stubs and return the stale committed files (empty: all up to date)."""
    return stale_files(root, generate(root))


def stale_message(root: Path, stale: list[Path]) -> str:
    """Name the stale files (relative to ``root``) and the command that fixes them."""
    return TREE.stale_message(root, stale)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``agora proto [--check]``."""
    proto = commands.add_parser(
        "proto", help=f"generate the gRPC stubs in {OUTPUT_DIR} from {PROTO_DIR}/"
    )
    proto.add_argument("--check", action="store_true", help="only fail when they are stale")


def cmd_proto(args: argparse.Namespace) -> int:
    """Write the generated stubs, or with ``--check`` only compare them.

    Returns:
        0 when written or up to date; 1 when ``--check`` found stale files or protoc failed.
    """
    root = repo_root()
    try:
        files = generate(root)
    except GenerationError as error:
        warn(f"agora: {error}")
        return 1
    return TREE.command(root, files, check=args.check)
