"""The ``agora`` fixture: a private stack in a temporary data dir on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.system.stack import AgoraRun, private_stack


@pytest.fixture
def agora() -> Iterator[AgoraRun]:
    """An ``agora`` runner with its own data dir and free ports; ``down`` always runs at the end."""
    with private_stack() as run:
        yield run
