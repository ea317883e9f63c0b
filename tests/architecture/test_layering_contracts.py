"""The import-linter contracts fail CI when a route, servicer or handler skips the service layer.

Each test copies the workspace's packages and ``pyproject.toml`` to a temporary tree, adds one
module (or import) that breaks the rule, and runs ``lint-imports`` on the copy: the named contract
must be reported broken. The unchanged copy must pass, so the failure comes from the edit alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "agora_chassis": "libs/chassis/src",
    "agora_contracts": "libs/contracts/src",
    "agora_identity": "services/identity/src",
    "agora_notification": "services/notification/src",
    "agora_catalog": "services/catalog/src",
    "agora_payment": "services/payment/src",
    "agora_cli": "cli/src",
}
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
WIDE_TERMINAL = "400"  # so a contract's name and its verdict stay on one line
TIMEOUT_SECONDS = 300

ONLY_WIRING = {
    "identity": "Identity: only services and the wiring (api.deps, main) import repositories",
    "notification": (
        "Notification: only services and the wiring (api.deps, main) import repositories"
    ),
    "catalog": (
        "Catalog: only services, the wiring (api.deps, wiring, main) and the seed import "
        "repositories"
    ),
    "payment": (
        "Payment: only services and the wiring (api.deps, wiring, main) import repositories"
    ),
    "chassis": "Chassis: only the dead-letter service and its wiring import its repository",
}
NO_SQLALCHEMY = "Routes, servicers and handlers never import SQLAlchemy"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of every root package (under ``src/``) and of the root ``pyproject.toml``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package, source in PACKAGES.items():
        shutil.copytree(ROOT / source / package, tmp_path / "src" / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` on the copy (its packages first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "COLUMNS": WIDE_TERMINAL}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


def add_module(tree: Path, dotted: str, source: str) -> None:
    """Add ``source`` to the copy's module ``dotted`` (created, or appended to)."""
    path = tree / "src" / Path(*dotted.split(".")).with_suffix(".py")
    existing = path.read_text() if path.exists() else '"""Added by the test."""\n'
    path.write_text(existing + source)


def test_contracts_unchanged_copy_passes(tree: Path) -> None:
    result = lint_imports(tree)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "agora_notification.api.leaky",
            "from agora_notification.repositories.notifications import NotificationRepository\n",
            ONLY_WIRING["notification"],
        ),
        (
            "agora_identity.api.users",
            "from agora_identity.repositories.users import UserRepository\n",
            ONLY_WIRING["identity"],
        ),
        (
            "agora_catalog.grpc.server",
            "from agora_catalog.repositories.products import ProductRepository\n",
            ONLY_WIRING["catalog"],
        ),
        (
            "agora_catalog.events.subscriber",
            "from agora_catalog.repositories.reservations import ReservationRepository\n",
            ONLY_WIRING["catalog"],
        ),
        (
            "agora_payment.events.subscriber",
            "from agora_payment.repositories.payments import PaymentRepository\n",
            ONLY_WIRING["payment"],
        ),
        (
            "agora_chassis.messaging.admin",
            "from agora_chassis.messaging.deadletter_repository import DeadLetterRepository\n",
            ONLY_WIRING["chassis"],
        ),
        ("agora_catalog.api.products", "from sqlalchemy import select\n", NO_SQLALCHEMY),
        ("agora_notification.events.subscriber", "import sqlalchemy\n", NO_SQLALCHEMY),
        ("agora_payment.api.payments", "from sqlalchemy import select\n", NO_SQLALCHEMY),
        ("agora_chassis.messaging.admin", "from sqlalchemy import func\n", NO_SQLALCHEMY),
    ],
)
def test_contracts_route_skipping_the_service_layer_fails(
    tree: Path, module: str, line: str, contract: str
) -> None:
    add_module(tree, module, line)

    result = lint_imports(tree)

    assert result.returncode != 0, result.stdout
    assert f"{contract} BROKEN" in result.stdout, result.stdout
