"""The pause before a consumer's next fetch grows with its failed fetches, up to a cap."""

from __future__ import annotations

import pytest

from agora_chassis.messaging.supervision import (
    FIRST_PAUSE_SECONDS,
    MAX_PAUSE_SECONDS,
    LoopState,
)


@pytest.mark.parametrize(
    ("failures", "pause"),
    [
        (0, 0.0),
        (1, FIRST_PAUSE_SECONDS),
        (2, FIRST_PAUSE_SECONDS * 2),
        (3, FIRST_PAUSE_SECONDS * 4),
        (50, MAX_PAUSE_SECONDS),
    ],
)
def test_loop_state_pause_doubles_per_failure_up_to_the_cap(failures: int, pause: float) -> None:
    assert LoopState(failures=failures).pause == pause
