"""Retry waits grow exponentially, are capped and jittered, and span two minutes by default."""

import pytest

from agora_chassis.messaging import RetryPolicy
from agora_chassis.settings import ServiceSettings

OLD_WINDOW_SECONDS = 1.5
TWO_MINUTES = 120.0


@pytest.mark.parametrize(("failures", "backoff"), [(1, 1.0), (2, 4.0), (3, 5.0), (10, 5.0)])
def test_retry_delay_grows_exponentially_within_cap(failures: int, backoff: float) -> None:
    policy = RetryPolicy(base_delay=1.0, multiplier=4.0, max_delay=5.0, jitter=0.2)
    delays = [policy.delay(failures) for _ in range(50)]
    assert all(backoff * 0.8 <= delay <= backoff * 1.2 for delay in delays)
    assert len(set(delays)) > 1  # jittered


def test_retry_policy_default_is_three_tries() -> None:
    assert RetryPolicy().tries == 3


def test_retry_policy_default_window_spans_at_least_two_minutes() -> None:
    policy = RetryPolicy()
    assert policy.shortest_window() >= TWO_MINUTES
    waits = [policy.delay(failures) for failures in range(1, policy.tries)]
    assert sum(waits) >= TWO_MINUTES > OLD_WINDOW_SECONDS


def test_retry_policy_without_jitter_waits_exactly_the_nominal_delay() -> None:
    policy = RetryPolicy(base_delay=2.0, multiplier=3.0, jitter=0.0)
    assert [policy.delay(failures) for failures in (1, 2, 3)] == [2.0, 6.0, 18.0]


def test_retry_policy_from_settings_takes_the_first_wait_and_keeps_the_shape() -> None:
    settings = ServiceSettings.model_validate({"consumer_retry_base_seconds": 10})
    policy = RetryPolicy.from_settings(settings)
    assert (policy.tries, policy.nominal_delay(1), policy.nominal_delay(2)) == (3, 10.0, 40.0)
