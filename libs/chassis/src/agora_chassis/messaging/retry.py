"""How often and how patiently a consumer retries a failing handler."""

from __future__ import annotations

import random
from dataclasses import dataclass

DEFAULT_TRIES = 3
DEFAULT_BASE_DELAY_SECONDS = 0.5
DEFAULT_MAX_DELAY_SECONDS = 10.0
JITTER_FLOOR = 0.5


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter between in-process tries.

    Attributes:
        tries: Handler runs before the message is dead-lettered (the first run included).
        base_delay: Wait after the first failure, in seconds; doubles after each further one.
        max_delay: Upper bound of one wait, in seconds.
    """

    tries: int = DEFAULT_TRIES
    base_delay: float = DEFAULT_BASE_DELAY_SECONDS
    max_delay: float = DEFAULT_MAX_DELAY_SECONDS

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failed tries: between half and all of the backoff.

        Args:
            failures: Failed tries so far (1 after the first failure).

        Returns:
            The wait in seconds.
        """
        backoff = min(self.base_delay * 2 ** (failures - 1), self.max_delay)
        # Jitter spreads the retries of many consumers that failed together; not security.
        return float(backoff * random.uniform(JITTER_FLOOR, 1.0))  # noqa: S311
