"""How often and how patiently a consumer retries a failing handler.

The broker schedules the retries (see :mod:`agora_chassis.messaging.redelivery`); this policy only
says how many tries there are and how long each wait is. The default, 3 tries with waits of about
30 s and 120 s (each jittered by ±20 %), bridges an outage of at least two minutes before a message
is dead-lettered: long enough for an SMTP relay or a database to restart, short enough that an
operator sees a real failure in the dead-letter table within a few minutes (ADR 0008).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from agora_chassis.settings import DEFAULT_RETRY_BASE_SECONDS, ServiceSettings

DEFAULT_TRIES = 3
DEFAULT_BASE_DELAY_SECONDS = DEFAULT_RETRY_BASE_SECONDS
DEFAULT_MULTIPLIER = 4.0
DEFAULT_MAX_DELAY_SECONDS = 900.0
DEFAULT_JITTER = 0.2


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter between tries that the broker schedules.

    Attributes:
        tries: Handler runs before the message is dead-lettered (the first run included).
        base_delay: Wait after the first failure, in seconds; multiplied after each further one.
        multiplier: Growth of the wait from one failure to the next.
        max_delay: Upper bound of one nominal wait, in seconds.
        jitter: Relative spread of a wait around its nominal value (0.2: ±20 %).
    """

    tries: int = DEFAULT_TRIES
    base_delay: float = DEFAULT_BASE_DELAY_SECONDS
    multiplier: float = DEFAULT_MULTIPLIER
    max_delay: float = DEFAULT_MAX_DELAY_SECONDS
    jitter: float = DEFAULT_JITTER

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> RetryPolicy:
        """The default policy with the first wait the service's settings give.

        Args:
            settings: The service's settings (``AGORA_CONSUMER_RETRY_BASE_SECONDS``).

        Returns:
            The policy.
        """
        return cls(base_delay=settings.consumer_retry_base_seconds)

    def nominal_delay(self, failures: int) -> float:
        """The wait after ``failures`` failed tries, before jitter.

        Args:
            failures: Failed tries so far (1 after the first failure).

        Returns:
            The wait in seconds.
        """
        return float(min(self.base_delay * self.multiplier ** (failures - 1), self.max_delay))

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failed tries: the nominal wait, jittered.

        Args:
            failures: Failed tries so far (1 after the first failure).

        Returns:
            The wait in seconds, within ``jitter`` of :meth:`nominal_delay`.
        """
        # Jitter spreads the retries of many consumers that failed together; not security.
        spread = random.uniform(-self.jitter, self.jitter)  # noqa: S311
        return self.nominal_delay(failures) * (1.0 + spread)

    def shortest_window(self) -> float:
        """The least time between a message's first try and its dead letter (all jitter low).

        Returns:
            The sum of the waits between the tries, each at its lowest, in seconds.
        """
        waits = (self.nominal_delay(failures) for failures in range(1, self.tries))
        return sum(waits) * (1.0 - self.jitter)
