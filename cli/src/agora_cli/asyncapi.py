"""``agora asyncapi``: every service's AsyncAPI document, generated from code into docs/asyncapi.

A service with channels names its ``ServiceChannels`` in ``ServiceSpec.channels``; the chassis
renders it (``python -m agora_chassis.messaging.asyncapi``, one process per service, run side by
side) so the CLI never imports service code, as with uvicorn and alembic. No server is needed.
A service without channels gets no document. ``--check`` changes nothing and fails when a
committed document differs from what the code generates, is missing, or belongs to no service.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from agora_cli.config import repo_root
from agora_cli.generated import GeneratedTree
from agora_cli.services import SERVICES, ServiceSpec
from agora_cli.ui import warn

DOCS_DIR = Path("docs/asyncapi")
FIX_COMMAND = "./agora asyncapi"
GENERATOR_MODULE = "agora_chassis.messaging.asyncapi"
TREE = GeneratedTree("AsyncAPI documents", DOCS_DIR, "*.yaml", FIX_COMMAND)


class GenerationError(RuntimeError):
    """A service's document could not be generated (its channels do not import or render)."""


def generator_argv(python: str, channels: str) -> list[str]:
    """The command line printing the AsyncAPI document of ``channels`` (``module:attribute``)."""
    return [python, "-m", GENERATOR_MODULE, channels]


def generate(root: Path, services: Sequence[ServiceSpec] = SERVICES) -> dict[Path, str]:
    """Render the document of every service with channels, all at once.

    Args:
        root: The repository root.
        services: The services to document.

    Returns:
        Each document's path (under ``root``) and its text.

    Raises:
        GenerationError: A generator failed; its error output is in the message.
    """
    documented = [(spec.name, spec.channels) for spec in services if spec.channels is not None]
    children = [
        subprocess.Popen(  # noqa: S603 - argv built from the service registry
            generator_argv(sys.executable, channels),
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            encoding="utf-8",
        )
        for _, channels in documented
    ]
    documents: dict[Path, str] = {}
    failures: list[str] = []
    for (name, _), child in zip(documented, children, strict=True):
        output, errors = child.communicate()
        if child.returncode != 0:
            failures.append(f"{name}: {errors.strip() or f'exit code {child.returncode}'}")
        documents[root / DOCS_DIR / f"{name}.yaml"] = output
    if failures:
        raise GenerationError("cannot generate AsyncAPI documents:\n" + "\n".join(failures))
    return documents


def _encoded(documents: dict[Path, str]) -> dict[Path, bytes]:
    return {path: text.encode() for path, text in documents.items()}


def stale_documents(root: Path, documents: dict[Path, str]) -> list[Path]:
    """The committed documents that are not what the code generates, sorted.

    A document is stale when it differs, is missing, or is a ``*.yaml`` no service generates.
    """
    return TREE.stale(root, _encoded(documents))


def write_documents(root: Path, documents: dict[Path, str]) -> list[Path]:
    """Make ``docs/asyncapi`` hold exactly ``documents``; return the files written or removed."""
    return TREE.write(root, _encoded(documents))


def check(root: Path) -> list[Path]:
    """Generate every document and return the stale committed ones (empty: all up to date)."""
    return stale_documents(root, generate(root))


def stale_message(root: Path, stale: Sequence[Path]) -> str:
    """Name the stale files (relative to ``root``) and the command that fixes them."""
    return TREE.stale_message(root, stale)


def cmd_asyncapi(args: argparse.Namespace) -> int:
    """Write every service's AsyncAPI document, or with ``--check`` only compare them.

    Returns:
        0 when written or up to date, 1 when ``--check`` found stale documents or generating
        failed.
    """
    root = repo_root()
    try:
        documents = generate(root)
    except GenerationError as error:
        warn(f"agora: {error}")
        return 1
    return TREE.command(root, _encoded(documents), check=args.check)
