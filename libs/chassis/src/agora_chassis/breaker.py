"""A circuit breaker for one call target: stop calling a dependency that keeps failing.

The three states (ADR 0017)::

    closed ──(N failures in a row, or the failure rate of a full window)──▶ open
    open ──(cool-down elapsed)──▶ half-open
    half-open ──(the one trial call succeeds)──▶ closed
    half-open ──(the trial call fails)──▶ open (a new cool-down)

While open, and in half-open beside the trial, :meth:`CircuitBreaker.acquire` refuses calls at
once, so a caller answers from its fallback instead of waiting for a dead target. The breaker
holds no lock: it is used from one event loop, and none of its methods awaits.

Each call holds a :class:`Permit` from :meth:`~CircuitBreaker.acquire` and reports its outcome
with it; a result that arrives after the state moved on (a slow call started while closed,
finishing in half-open) no longer decides anything.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

Clock = Callable[[], float]
TransitionListener = Callable[["BreakerState", "BreakerState"], None]

DEFAULT_FAILURE_THRESHOLD = 5
DEFAULT_FAILURE_RATE = 0.5
DEFAULT_WINDOW_SIZE = 20
DEFAULT_COOL_DOWN_SECONDS = 5.0


class BreakerState(IntEnum):
    """A breaker's state; the value is what the ``service_client_breaker_state`` gauge shows."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2

    @property
    def label(self) -> str:
        """The state's name in metrics and readiness: ``closed``, ``half-open``, ``open``."""
        return self.name.lower().replace("_", "-")


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens and how long it stays open.

    Attributes:
        failure_threshold: Consecutive failed calls that open the breaker.
        failure_rate: Share of failures among the last ``window_size`` calls that opens it
            (checked once the window is full); ``None`` checks consecutive failures only.
        window_size: How many recent calls the failure rate is taken over.
        cool_down_seconds: How long the breaker stays open before it lets one trial call through.
    """

    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    failure_rate: float | None = DEFAULT_FAILURE_RATE
    window_size: int = DEFAULT_WINDOW_SIZE
    cool_down_seconds: float = DEFAULT_COOL_DOWN_SECONDS

    def __post_init__(self) -> None:
        """Refuse a policy that could never open or never close."""
        if self.failure_threshold < 1 or self.window_size < 1:
            raise ValueError("failure_threshold and window_size must be at least 1")
        if self.failure_rate is not None and not 0 < self.failure_rate <= 1:
            raise ValueError("failure_rate must be in (0, 1]")
        if self.cool_down_seconds < 0:
            raise ValueError("cool_down_seconds must not be negative")


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to make one call; hand it back with the outcome.

    Attributes:
        trial: Whether this is the half-open state's single trial call.
        generation: The breaker's generation when the permit was given (see the module doc).
    """

    trial: bool
    generation: int


class CircuitBreaker:
    """The breaker of one target, with an injectable clock.

    Args:
        policy: Thresholds and cool-down.
        clock: Monotonic seconds (a fake one in tests).
        on_transition: Called with ``(old, new)`` on every change of state (metrics).
    """

    def __init__(
        self,
        policy: BreakerPolicy | None = None,
        *,
        clock: Clock = time.monotonic,
        on_transition: TransitionListener | None = None,
    ) -> None:
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        self._generation = 0  # bumped on every transition
        self._consecutive_failures = 0
        self._window: deque[bool] = deque(maxlen=self.policy.window_size)  # True: failed
        self._opened_at = 0.0
        self._trial_out = False

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose cool-down is over turns half-open here."""
        if self._state is BreakerState.OPEN and self.cool_down_left() == 0:
            self._move(BreakerState.HALF_OPEN)
        return self._state

    def cool_down_left(self) -> float:
        """Seconds until an open breaker lets a trial call through (0 unless open)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.policy.cool_down_seconds - self._clock())

    def acquire(self) -> Permit | None:
        """Ask leave to call the target.

        Returns:
            A permit, or ``None`` while the breaker is open or its trial call is under way.
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return Permit(trial=False, generation=self._generation)
        if state is BreakerState.HALF_OPEN and not self._trial_out:
            self._trial_out = True
            return Permit(trial=True, generation=self._generation)
        return None

    def succeeded(self, permit: Permit) -> None:
        """Report that the call answered like a healthy target (a domain error included)."""
        if permit.generation != self._generation:
            return
        if permit.trial:
            self._move(BreakerState.CLOSED)
            return
        self._consecutive_failures = 0
        self._window.append(False)

    def failed(self, permit: Permit) -> None:
        """Report that the target failed the call (unreachable, timed out, server fault)."""
        if permit.generation != self._generation:
            return
        if permit.trial:
            self._move(BreakerState.OPEN)
            return
        self._consecutive_failures += 1
        self._window.append(True)
        if self._tripped():
            self._move(BreakerState.OPEN)

    def abandoned(self, permit: Permit) -> None:
        """Report a call that says nothing about the target (cancelled by its caller)."""
        if permit.trial and permit.generation == self._generation:
            self._trial_out = False

    def _tripped(self) -> bool:
        if self._consecutive_failures >= self.policy.failure_threshold:
            return True
        rate = self.policy.failure_rate
        window = self._window
        return (
            rate is not None and len(window) == window.maxlen and sum(window) >= rate * len(window)
        )

    def _move(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        self._generation += 1
        self._trial_out = False
        self._consecutive_failures = 0
        self._window.clear()
        if new is BreakerState.OPEN:
            self._opened_at = self._clock()
        if self._on_transition is not None:
            self._on_transition(old, new)
