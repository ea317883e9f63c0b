"""The ``agora`` fixture: a private stack in a temporary data dir on free ports."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agora_cli.config import PORT_VARIABLES
from agora_cli.infra.ports import free_port
from agora_cli.services import SERVICES
from tests.system.stack import AgoraRun


@pytest.fixture
def agora() -> Iterator[AgoraRun]:
    """An ``agora`` runner with its own data dir and free ports; ``down`` always runs at the end."""
    data_dir = Path(tempfile.mkdtemp(prefix="agora-system-", dir="/tmp"))
    data_dir.chmod(0o755)  # PostgreSQL runs as nobody under root and must reach its data dir
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env.update({variable: str(free_port()) for variable in PORT_VARIABLES})
    # Every service listens on base + its offset: the whole block must be free.
    env["AGORA_SERVICE_PORT_BASE"] = str(free_port(count=len(SERVICES)))
    run = AgoraRun(data_dir, env)
    yield run
    run("down")
    shutil.rmtree(data_dir, ignore_errors=True)
