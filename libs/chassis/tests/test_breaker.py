"""The circuit breaker's state machine, on a fake clock: when it opens, half-opens and closes."""

from __future__ import annotations

import pytest

from agora_chassis.breaker import BreakerPolicy, BreakerState, CircuitBreaker, Permit

COOL_DOWN = 10.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_breaker(
    clock: FakeClock,
    transitions: list[tuple[BreakerState, BreakerState]] | None = None,
    **policy: object,
) -> CircuitBreaker:
    settings: dict[str, object] = {"failure_threshold": 3, "cool_down_seconds": COOL_DOWN} | policy
    record = transitions.append if transitions is not None else None
    return CircuitBreaker(
        BreakerPolicy(**settings),  # type: ignore[arg-type]
        clock=clock,
        on_transition=(lambda old, new: record((old, new))) if record else None,
    )


def fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        permit = breaker.acquire()
        assert permit is not None
        breaker.failed(permit)


def succeed(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        permit = breaker.acquire()
        assert permit is not None
        breaker.succeeded(permit)


def open_breaker(breaker: CircuitBreaker) -> None:
    fail(breaker, breaker.policy.failure_threshold)
    assert breaker.state is BreakerState.OPEN


def test_breaker_new_is_closed_and_lets_calls_through(clock: FakeClock) -> None:
    breaker = make_breaker(clock)

    assert breaker.state is BreakerState.CLOSED
    assert breaker.cool_down_left() == 0
    assert breaker.acquire() == Permit(trial=False, generation=0)


def test_breaker_consecutive_failures_below_threshold_stay_closed(clock: FakeClock) -> None:
    breaker = make_breaker(clock)

    fail(breaker, 2)

    assert breaker.state is BreakerState.CLOSED


def test_breaker_threshold_of_consecutive_failures_opens_and_refuses(clock: FakeClock) -> None:
    transitions: list[tuple[BreakerState, BreakerState]] = []
    breaker = make_breaker(clock, transitions)

    fail(breaker, 3)

    assert breaker.state is BreakerState.OPEN
    assert breaker.acquire() is None
    assert transitions == [(BreakerState.CLOSED, BreakerState.OPEN)]


def test_breaker_success_resets_the_consecutive_count(clock: FakeClock) -> None:
    breaker = make_breaker(clock, failure_rate=None)

    fail(breaker, 2)
    succeed(breaker)
    fail(breaker, 2)

    assert breaker.state is BreakerState.CLOSED


def test_breaker_failure_rate_over_full_window_opens(clock: FakeClock) -> None:
    breaker = make_breaker(clock, failure_threshold=100, failure_rate=0.5, window_size=10)

    for _ in range(4):  # alternate: never two failures in a row
        succeed(breaker)
        fail(breaker)
    succeed(breaker)
    assert breaker.state is BreakerState.CLOSED  # 4 of 9: the window is not full yet
    fail(breaker)  # 5 of 10 failed

    assert breaker.state is BreakerState.OPEN


def test_breaker_failure_rate_below_threshold_stays_closed(clock: FakeClock) -> None:
    breaker = make_breaker(clock, failure_threshold=100, failure_rate=0.5, window_size=10)

    for _ in range(20):
        fail(breaker)
        succeed(breaker, 2)

    assert breaker.state is BreakerState.CLOSED


def test_breaker_open_before_cool_down_refuses_and_says_how_long(clock: FakeClock) -> None:
    breaker = make_breaker(clock)
    open_breaker(breaker)

    clock.now += COOL_DOWN - 1

    assert breaker.acquire() is None
    assert breaker.cool_down_left() == pytest.approx(1.0)


def test_breaker_after_cool_down_is_half_open_and_lets_one_trial_through(
    clock: FakeClock,
) -> None:
    breaker = make_breaker(clock)
    open_breaker(breaker)

    clock.now += COOL_DOWN

    assert breaker.state is BreakerState.HALF_OPEN
    trial = breaker.acquire()
    assert trial is not None
    assert trial.trial
    assert breaker.acquire() is None  # a second caller waits for the trial's verdict


def test_breaker_trial_success_closes(clock: FakeClock) -> None:
    transitions: list[tuple[BreakerState, BreakerState]] = []
    breaker = make_breaker(clock, transitions)
    open_breaker(breaker)
    clock.now += COOL_DOWN
    trial = breaker.acquire()
    assert trial is not None

    breaker.succeeded(trial)

    assert breaker.state is BreakerState.CLOSED
    assert breaker.acquire() is not None
    assert [new for _, new in transitions] == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]


def test_breaker_trial_failure_reopens_for_a_new_cool_down(clock: FakeClock) -> None:
    breaker = make_breaker(clock)
    open_breaker(breaker)
    clock.now += COOL_DOWN
    trial = breaker.acquire()
    assert trial is not None

    breaker.failed(trial)

    assert breaker.state is BreakerState.OPEN
    assert breaker.cool_down_left() == pytest.approx(COOL_DOWN)


def test_breaker_abandoned_trial_lets_the_next_caller_try(clock: FakeClock) -> None:
    breaker = make_breaker(clock)
    open_breaker(breaker)
    clock.now += COOL_DOWN
    trial = breaker.acquire()
    assert trial is not None

    breaker.abandoned(trial)

    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.acquire() is not None


def test_breaker_late_success_of_an_old_call_does_not_close_it(clock: FakeClock) -> None:
    breaker = make_breaker(clock)
    slow = breaker.acquire()
    assert slow is not None
    open_breaker(breaker)
    clock.now += COOL_DOWN
    assert breaker.state is BreakerState.HALF_OPEN

    breaker.succeeded(slow)  # started while closed, answered now

    assert breaker.state is BreakerState.HALF_OPEN


def test_breaker_late_failures_of_old_calls_do_not_reopen_a_closed_breaker(
    clock: FakeClock,
) -> None:
    breaker = make_breaker(clock)
    stragglers = [breaker.acquire() for _ in range(3)]
    open_breaker(breaker)
    clock.now += COOL_DOWN
    succeed(breaker)  # the trial closes it

    for permit in stragglers:
        assert permit is not None
        breaker.failed(permit)

    assert breaker.state is BreakerState.CLOSED


def test_breaker_closed_again_counts_failures_from_zero(clock: FakeClock) -> None:
    breaker = make_breaker(clock)
    open_breaker(breaker)
    clock.now += COOL_DOWN
    succeed(breaker)

    fail(breaker, 2)

    assert breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize(
    "policy",
    [
        {"failure_threshold": 0},
        {"window_size": 0},
        {"failure_rate": 0.0},
        {"failure_rate": 1.5},
        {"cool_down_seconds": -1.0},
    ],
)
def test_breaker_policy_that_cannot_work_is_refused(policy: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BreakerPolicy(**policy)  # type: ignore[arg-type]


def test_breaker_state_labels_are_the_metric_and_readiness_names() -> None:
    assert [state.label for state in BreakerState] == ["closed", "half-open", "open"]
    assert [state.value for state in BreakerState] == [0, 1, 2]
