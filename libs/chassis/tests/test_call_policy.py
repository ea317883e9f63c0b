"""Backoff with full jitter, the deadline it never passes, and which failures are transient."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable

import httpx
import pytest

from agora_chassis.call_outcomes import (
    Failure,
    grpc_failure,
    http_error_failure,
    http_status_failure,
    parse_retry_after,
)
from agora_chassis.call_policy import MIN_ATTEMPT_SECONDS, CallPolicy, wait_before_retry
from agora_chassis.settings import ServiceSettings

POLICY = CallPolicy(max_attempts=5, backoff_base_seconds=0.1, backoff_cap_seconds=0.5)
RETRYABLE = Failure("UNAVAILABLE", transient=True, retryable=True, breaker_failure=True)
NOT_RETRYABLE = Failure("deadline", transient=True, retryable=False, breaker_failure=True)
ALMOST_ONE = 0.999999


def always(value: float) -> Callable[[], float]:
    return lambda: value


@pytest.mark.parametrize(
    ("retry", "ceiling"), [(0, 0.1), (1, 0.2), (2, 0.4), (3, 0.5), (10, 0.5), (60, 0.5)]
)
def test_backoff_grows_exponentially_up_to_the_cap(retry: int, ceiling: float) -> None:
    assert POLICY.backoff_seconds(retry, always(ALMOST_ONE)) == pytest.approx(ceiling, rel=1e-5)
    assert POLICY.backoff_seconds(retry, always(0.0)) == 0.0


def test_backoff_is_the_random_share_of_the_ceiling() -> None:
    assert POLICY.backoff_seconds(2, always(0.25)) == pytest.approx(0.1)


def test_backoff_with_real_randomness_is_spread_within_bounds() -> None:
    waits = [CallPolicy().backoff_seconds(1, random.random) for _ in range(200)]

    assert all(0 <= wait < 0.1 for wait in waits)
    assert len(set(waits)) > 100  # jittered, not one fixed value


def test_wait_before_retry_is_the_backoff_when_time_is_left() -> None:
    wait = wait_before_retry(POLICY, RETRYABLE, retry=1, remaining=5.0, random=always(0.5))

    assert wait == pytest.approx(0.1)


def test_wait_before_retry_gives_up_when_attempts_are_used_up() -> None:
    last = POLICY.max_attempts - 1

    assert wait_before_retry(POLICY, RETRYABLE, retry=last - 1, remaining=5, random=always(0)) == 0
    assert wait_before_retry(POLICY, RETRYABLE, retry=last, remaining=5, random=always(0)) is None


def test_wait_before_retry_gives_up_on_a_failure_not_retried() -> None:
    assert wait_before_retry(POLICY, NOT_RETRYABLE, retry=0, remaining=5, random=always(0)) is None


def test_wait_before_retry_never_waits_past_the_deadline() -> None:
    # The wait would be 0.4 s: with 0.4 s left there is no time for the attempt after it.
    wait = wait_before_retry(POLICY, RETRYABLE, retry=2, remaining=0.4, random=always(ALMOST_ONE))
    enough = 0.4 + MIN_ATTEMPT_SECONDS + 0.001

    assert wait is None
    assert wait_before_retry(
        POLICY, RETRYABLE, retry=2, remaining=enough, random=always(ALMOST_ONE)
    )


def test_wait_before_retry_waits_at_least_the_targets_retry_after() -> None:
    limited = Failure("RESOURCE_EXHAUSTED", True, True, False, retry_after=1.5)

    wait = wait_before_retry(POLICY, limited, retry=0, remaining=5.0, random=always(0.5))

    assert wait == 1.5


def test_wait_before_retry_gives_up_when_retry_after_is_past_the_deadline() -> None:
    limited = Failure("RESOURCE_EXHAUSTED", True, True, False, retry_after=30.0)

    assert wait_before_retry(POLICY, limited, retry=0, remaining=5.0, random=always(0)) is None


def test_attempt_budget_is_the_time_left_capped_by_the_attempt_timeout() -> None:
    assert CallPolicy().attempt_budget(1.5) == 1.5
    assert CallPolicy(attempt_timeout_seconds=0.5).attempt_budget(1.5) == 0.5
    assert CallPolicy(attempt_timeout_seconds=0.5).attempt_budget(0.2) == 0.2


def test_call_policy_from_settings_takes_the_agora_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGORA_CALL_DEADLINE_SECONDS", "1.5")
    monkeypatch.setenv("AGORA_CALL_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("AGORA_BREAKER_FAILURE_THRESHOLD", "7")
    monkeypatch.setenv("AGORA_BREAKER_COOL_DOWN_SECONDS", "12")

    policy = CallPolicy.from_settings(ServiceSettings(), attempt_timeout_seconds=0.4)

    assert (policy.deadline_seconds, policy.max_attempts) == (1.5, 2)
    assert (policy.breaker.failure_threshold, policy.breaker.cool_down_seconds) == (7, 12.0)
    assert policy.attempt_timeout_seconds == 0.4


def test_call_policy_defaults_match_the_settings_defaults() -> None:
    policy, settings = CallPolicy(), ServiceSettings()

    assert CallPolicy.from_settings(settings) == policy


@pytest.mark.parametrize(
    "fields", [{"deadline_seconds": 0}, {"max_attempts": 0}, {"backoff_base_seconds": -1}]
)
def test_call_policy_that_allows_no_call_is_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CallPolicy(**fields)  # type: ignore[arg-type]


# --- classification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "idempotent", "transient", "retryable", "breaker_failure"),
    [
        ("UNAVAILABLE", False, True, True, True),
        ("DEADLINE_EXCEEDED", True, True, True, True),
        ("DEADLINE_EXCEEDED", False, True, False, True),
        ("RESOURCE_EXHAUSTED", True, False, False, False),  # no retry-after: a size limit
        ("INTERNAL", True, False, False, True),
        ("UNKNOWN", True, False, False, True),
        ("NOT_FOUND", True, False, False, False),
        ("INVALID_ARGUMENT", True, False, False, False),
        ("FAILED_PRECONDITION", True, False, False, False),
        ("PERMISSION_DENIED", True, False, False, False),
        ("UNAUTHENTICATED", True, False, False, False),
        ("ABORTED", True, False, False, False),
    ],
)
def test_grpc_failure_classifies_each_code(
    code: str, idempotent: bool, transient: bool, retryable: bool, breaker_failure: bool
) -> None:
    failure = grpc_failure(code, (), idempotent=idempotent)

    assert (failure.transient, failure.retryable, failure.breaker_failure) == (
        transient,
        retryable,
        breaker_failure,
    )


def test_grpc_resource_exhausted_with_retry_after_is_retried_after_it() -> None:
    failure = grpc_failure("RESOURCE_EXHAUSTED", [("retry-after", "3")], idempotent=False)

    assert failure.transient
    assert failure.retryable
    assert not failure.breaker_failure
    assert failure.retry_after == 3.0


def response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers)


@pytest.mark.parametrize(
    ("status", "idempotent", "transient", "retryable", "breaker_failure"),
    [
        (503, False, True, True, True),
        (502, True, True, True, True),
        (502, False, True, False, True),
        (504, True, True, True, True),
        (504, False, True, False, True),
        (500, True, False, False, True),
        (501, True, False, False, True),
        (429, True, False, False, False),  # no Retry-After
        (404, True, False, False, False),
        (409, False, False, False, False),
        (422, False, False, False, False),
    ],
)
def test_http_status_failure_classifies_each_status(
    status: int, idempotent: bool, transient: bool, retryable: bool, breaker_failure: bool
) -> None:
    failure = http_status_failure(response(status), idempotent=idempotent)

    assert failure is not None
    assert (failure.transient, failure.retryable, failure.breaker_failure) == (
        transient,
        retryable,
        breaker_failure,
    )


@pytest.mark.parametrize("status", [200, 201, 204, 301, 304])
def test_http_status_below_400_is_no_failure(status: int) -> None:
    assert http_status_failure(response(status), idempotent=False) is None


def test_http_429_with_retry_after_is_retried_after_it() -> None:
    failure = http_status_failure(response(429, **{"Retry-After": "2"}), idempotent=False)

    assert failure is not None
    assert (failure.transient, failure.retryable, failure.retry_after) == (True, True, 2.0)
    assert not failure.breaker_failure


REQUEST = httpx.Request("POST", "http://psp/charges")


@pytest.mark.parametrize(
    ("error", "idempotent", "retryable"),
    [
        (httpx.ConnectError("refused", request=REQUEST), False, True),
        (httpx.ConnectTimeout("slow", request=REQUEST), False, True),
        (httpx.PoolTimeout("pool", request=REQUEST), False, True),
        (httpx.ReadTimeout("slow", request=REQUEST), True, True),
        (httpx.ReadTimeout("slow", request=REQUEST), False, False),
        (httpx.ReadError("reset", request=REQUEST), True, True),
        (httpx.ReadError("reset", request=REQUEST), False, False),
        (httpx.RemoteProtocolError("closed", request=REQUEST), False, False),
    ],
)
def test_http_error_failure_retries_unsent_requests_always_and_sent_ones_if_idempotent(
    error: Exception, idempotent: bool, retryable: bool
) -> None:
    failure = http_error_failure(error, idempotent=idempotent)

    assert failure is not None
    assert failure.transient
    assert failure.breaker_failure
    assert failure.retryable is retryable


@pytest.mark.parametrize("error", [ValueError("bug"), httpx.UnsupportedProtocol("ftp://")])
def test_http_error_failure_of_no_transport_error_is_none(error: Exception) -> None:
    assert http_error_failure(error, idempotent=True) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("5", 5.0), (" 0 ", 0.0), (None, None), ("", None), ("soon", None), ("-3", None)],
)
def test_parse_retry_after_reads_delay_seconds(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_grpc_resource_exhausted_finds_retry_after_among_other_trailers() -> None:
    trailers = [("x-debug", "1"), ("Retry-After", "4")]

    assert grpc_failure("RESOURCE_EXHAUSTED", trailers, idempotent=True).retry_after == 4.0


def test_parse_retry_after_reads_an_http_date_without_zone_as_utc() -> None:
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 60, usegmt=False).rsplit(" ", 1)[0] + " -0000"

    assert parse_retry_after(date, now=now) == pytest.approx(60.0)


def test_parse_retry_after_reads_an_http_date() -> None:
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)

    assert parse_retry_after(date, now=now) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
