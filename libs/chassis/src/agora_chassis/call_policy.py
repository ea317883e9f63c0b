"""How long an outgoing service call may take, how often it is tried, and how long between tries.

Waits between attempts use exponential backoff with *full jitter*: the n-th retry waits a random
time in ``[0, min(cap, base * 2**n))``. Spreading the whole interval keeps many callers that
failed together from retrying together. A target that says how long to wait (``Retry-After``)
is waited for at least that long. No wait ever runs past the call's deadline: when the next
attempt could not start with :data:`MIN_ATTEMPT_SECONDS` left, the call gives up instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agora_chassis.breaker import BreakerPolicy
from agora_chassis.call_outcomes import Failure

if TYPE_CHECKING:
    from agora_chassis.settings import ServiceSettings

DEFAULT_DEADLINE_SECONDS = 2.0
"""Time budget of one call, every attempt and wait included."""
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF_BASE_SECONDS = 0.05
DEFAULT_BACKOFF_CAP_SECONDS = 1.0
MIN_ATTEMPT_SECONDS = 0.02
"""An attempt with less time than this left is not started: it could only time out."""

Random = Callable[[], float]
"""A source of floats in ``[0, 1)`` (``random.random``; a fixed one in tests)."""


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """The resilience settings of the calls to one target.

    Attributes:
        deadline_seconds: Time budget of one call, every attempt and wait included; each
            attempt gets what is left (or ``attempt_timeout_seconds``, if smaller).
        max_attempts: Most attempts of one call (1: never retry).
        attempt_timeout_seconds: Cap on a single attempt, so that an idempotent call whose first
            attempt hangs still has time for a second; ``None``: what is left of the deadline.
        backoff_base_seconds: Upper bound of the first retry's wait; doubles with every retry.
        backoff_cap_seconds: Largest upper bound of a wait.
        breaker: When the target's circuit breaker opens and for how long.
    """

    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    attempt_timeout_seconds: float | None = None
    backoff_base_seconds: float = DEFAULT_BACKOFF_BASE_SECONDS
    backoff_cap_seconds: float = DEFAULT_BACKOFF_CAP_SECONDS
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)

    def __post_init__(self) -> None:
        """Refuse a policy that allows no call."""
        if self.deadline_seconds <= 0 or self.max_attempts < 1:
            raise ValueError("deadline_seconds must be positive and max_attempts at least 1")
        if self.backoff_base_seconds < 0 or self.backoff_cap_seconds < 0:
            raise ValueError("backoff bounds must not be negative")

    @classmethod
    def from_settings(cls, settings: ServiceSettings, **overrides: object) -> CallPolicy:
        """The policy the service's settings describe (``AGORA_CALL_*``, ``AGORA_BREAKER_*``).

        Args:
            settings: The service's settings.
            **overrides: Fields to set otherwise (``attempt_timeout_seconds=0.5``).

        Returns:
            The policy.
        """
        breaker = BreakerPolicy(
            failure_threshold=settings.breaker_failure_threshold,
            cool_down_seconds=settings.breaker_cool_down_seconds,
        )
        policy = cls(
            deadline_seconds=settings.call_deadline_seconds,
            max_attempts=settings.call_max_attempts,
            breaker=breaker,
        )
        return dataclasses.replace(policy, **overrides)  # type: ignore[arg-type]

    def backoff_seconds(self, retry: int, random: Random) -> float:
        """The jittered wait before retry number ``retry`` (0 for the first retry).

        Args:
            retry: How many retries came before this one.
            random: A float in ``[0, 1)`` per call.

        Returns:
            Seconds in ``[0, min(cap, base * 2**retry))``.
        """
        ceiling = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2.0**retry)
        return random() * ceiling

    def attempt_budget(self, remaining: float) -> float:
        """Time given to one attempt when ``remaining`` seconds of the deadline are left."""
        if self.attempt_timeout_seconds is None:
            return remaining
        return min(remaining, self.attempt_timeout_seconds)


def wait_before_retry(
    policy: CallPolicy, failure: Failure, *, retry: int, remaining: float, random: Random
) -> float | None:
    """How long to wait before retrying a failed attempt, or ``None`` to give up.

    Args:
        policy: The call's policy.
        failure: How the last attempt failed.
        retry: How many retries came before this one (attempts made minus one).
        remaining: Seconds left of the call's deadline.
        random: A float in ``[0, 1)`` per call.

    Returns:
        Seconds to wait; ``None`` when the failure is not retried, the attempts are used up, or
        the wait would leave less than :data:`MIN_ATTEMPT_SECONDS` for the next attempt.
    """
    if not failure.retryable or retry + 1 >= policy.max_attempts:
        return None
    wait = policy.backoff_seconds(retry, random)
    if failure.retry_after is not None:
        wait = max(wait, failure.retry_after)
    if wait + MIN_ATTEMPT_SECONDS > remaining:
        return None
    return wait
