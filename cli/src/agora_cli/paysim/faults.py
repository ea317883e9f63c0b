"""The simulator's faults: latency, a share of 5xx answers and a share of answers that never come.

A 5xx is decided before the processor acts: nothing is recorded, as when a processor fails at its
front door. A timeout is decided after: the charge is recorded, then the answer is held back far
longer than any client waits, as when a processor charges and the answer is lost on the way. That
second case is the one idempotency keys exist for: the client's retry with the same key gets the
stored answer, and the card is charged once.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

LATENCY_VARIABLE = "AGORA_PAYSIM_LATENCY_MS"
FAILURE_RATE_VARIABLE = "AGORA_PAYSIM_FAILURE_RATE"
TIMEOUT_RATE_VARIABLE = "AGORA_PAYSIM_TIMEOUT_RATE"
TIMEOUT_SECONDS_VARIABLE = "AGORA_PAYSIM_TIMEOUT_SECONDS"
SEED_VARIABLE = "AGORA_PAYSIM_SEED"
DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_LATENCY_MS = 60_000
MAX_TIMEOUT_SECONDS = 600.0
MILLISECONDS = 1000


class FaultSettingsError(ValueError):
    """A fault setting out of its range or of the wrong type."""


@dataclass(frozen=True)
class Faults:
    """How badly the simulator behaves.

    Attributes:
        latency_ms: Added to every ``/v1`` request before it is processed.
        failure_rate: Share (0 to 1) of ``/v1`` requests answered 500 before anything is recorded.
        timeout_rate: Share (0 to 1) of ``/v1`` requests processed and recorded, then answered
            only after ``timeout_seconds``.
        timeout_seconds: How long a "timed out" answer is held back.
    """

    latency_ms: int = 0
    failure_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def latency_seconds(self) -> float:
        """The latency in seconds."""
        return self.latency_ms / MILLISECONDS

    def as_json(self) -> dict[str, Any]:
        """The settings as the admin API shows them."""
        return asdict(self)


def _number(name: str, value: object, low: float, high: float) -> float:
    """``value`` as a number within ``[low, high]``.

    Raises:
        FaultSettingsError: Naming the setting.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FaultSettingsError(f"{name} must be a number from {low:g} to {high:g}")
    try:
        number = float(value)
    except ValueError:
        raise FaultSettingsError(f"{name} must be a number from {low:g} to {high:g}") from None
    if not low <= number <= high:
        raise FaultSettingsError(f"{name} must be a number from {low:g} to {high:g}")
    return number


def updated(faults: Faults, changes: Mapping[str, object]) -> Faults:
    """``faults`` with ``changes`` (any subset of its fields) applied.

    Raises:
        FaultSettingsError: An unknown setting, or a value out of its range.
    """
    unknown = set(changes) - set(asdict(faults))
    if unknown:
        raise FaultSettingsError(f"unknown fault settings: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    if "latency_ms" in changes:
        values["latency_ms"] = int(_number("latency_ms", changes["latency_ms"], 0, MAX_LATENCY_MS))
    for rate in ("failure_rate", "timeout_rate"):
        if rate in changes:
            values[rate] = _number(rate, changes[rate], 0, 1)
    if "timeout_seconds" in changes:
        values["timeout_seconds"] = _number(
            "timeout_seconds", changes["timeout_seconds"], 0, MAX_TIMEOUT_SECONDS
        )
    return replace(faults, **values)


def faults_from_env(env: Mapping[str, str]) -> Faults:
    """The start-up faults from ``AGORA_PAYSIM_*`` (unset: none).

    Raises:
        FaultSettingsError: Naming the variable when a value is out of range.
    """
    names = {
        LATENCY_VARIABLE: "latency_ms",
        FAILURE_RATE_VARIABLE: "failure_rate",
        TIMEOUT_RATE_VARIABLE: "timeout_rate",
        TIMEOUT_SECONDS_VARIABLE: "timeout_seconds",
    }
    changes = {field: env[variable] for variable, field in names.items() if env.get(variable)}
    try:
        return updated(Faults(), changes)
    except FaultSettingsError as error:
        raise FaultSettingsError(f"AGORA_PAYSIM_*: {error}") from None


class FaultDice:
    """The random draws deciding which request fails; seeded for a reproducible run."""

    def __init__(self, seed: int | None = None) -> None:
        """Draw from a generator seeded with ``seed`` (None: from the system)."""
        # Simulated faults, not security: a predictable generator is what a seeded test wants.
        self.random = random.Random(seed)  # noqa: S311  # nosec B311

    def fails(self, faults: Faults) -> bool:
        """Tell whether this request gets a 500."""
        return faults.failure_rate > 0 and self.random.random() < faults.failure_rate

    def times_out(self, faults: Faults) -> bool:
        """Tell whether this request's answer is held back."""
        return faults.timeout_rate > 0 and self.random.random() < faults.timeout_rate


def seed_from_env(env: Mapping[str, str]) -> int | None:
    """``AGORA_PAYSIM_SEED`` as an integer, None when unset.

    Raises:
        FaultSettingsError: When it is not an integer.
    """
    raw = env.get(SEED_VARIABLE, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise FaultSettingsError(f"{SEED_VARIABLE}={raw!r} is not an integer") from None
