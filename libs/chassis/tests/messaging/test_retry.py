"""Retry delays grow exponentially, are capped, and are jittered."""

import pytest

from agora_chassis.messaging import RetryPolicy


@pytest.mark.parametrize(("failures", "backoff"), [(1, 1.0), (2, 2.0), (3, 4.0), (10, 5.0)])
def test_retry_delay_grows_exponentially_within_cap(failures: int, backoff: float) -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    delays = [policy.delay(failures) for _ in range(50)]
    assert all(backoff / 2 <= delay <= backoff for delay in delays)
    assert len(set(delays)) > 1  # jittered


def test_retry_policy_default_is_three_tries() -> None:
    assert RetryPolicy().tries == 3
