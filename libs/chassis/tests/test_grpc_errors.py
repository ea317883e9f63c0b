"""The chassis table from domain errors to gRPC status codes."""

from __future__ import annotations

import pytest
from grpc import StatusCode
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from agora_chassis.errors import (
    AgoraError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)
from agora_chassis.grpc_errors import (
    INTERNAL_DETAIL,
    MAX_DETAIL_CHARS,
    code_for_http_status,
    status_for,
)


class ItemMissing(NotFound):
    title = "Item missing"


class Teapot(AgoraError):
    status = 418


class Broken(AgoraError):
    status = 502


class Quantity(BaseModel):
    quantity: int


class FakeSqlState(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (BadRequest(), StatusCode.INVALID_ARGUMENT),
        (ValidationFailed(), StatusCode.INVALID_ARGUMENT),
        (Unauthorized(), StatusCode.UNAUTHENTICATED),
        (Forbidden(), StatusCode.PERMISSION_DENIED),
        (NotFound(), StatusCode.NOT_FOUND),
        (ItemMissing("no item 7"), StatusCode.NOT_FOUND),
        (Conflict(), StatusCode.FAILED_PRECONDITION),
        (PreconditionFailed(), StatusCode.FAILED_PRECONDITION),
        (PayloadTooLarge(), StatusCode.RESOURCE_EXHAUSTED),
        (TooManyRequests(retry_after=5), StatusCode.RESOURCE_EXHAUSTED),
        (ServiceUnavailable(), StatusCode.UNAVAILABLE),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.name,
)
def test_status_for_domain_error_uses_its_base_class_code(
    error: AgoraError, code: StatusCode
) -> None:
    assert status_for(error).code == code


def test_status_for_domain_error_keeps_detail_and_headers_as_trailers() -> None:
    status = status_for(TooManyRequests(retry_after=7, detail="slow down"))

    assert status.details == "slow down"
    assert status.trailing_metadata == (("retry-after", "7"),)
    assert not status.internal


def test_status_for_long_detail_is_truncated() -> None:
    assert len(status_for(NotFound("x" * 5000)).details) == MAX_DETAIL_CHARS


@pytest.mark.parametrize(
    ("http_status", "code"),
    [(418, StatusCode.FAILED_PRECONDITION), (502, StatusCode.INTERNAL)],
)
def test_code_for_unlisted_http_status_goes_by_its_class(
    http_status: int, code: StatusCode
) -> None:
    assert code_for_http_status(http_status) == code


def test_status_for_unlisted_server_error_is_internal_and_logged() -> None:
    status = status_for(Broken())

    assert (status.code, status.internal) == (StatusCode.INTERNAL, True)
    assert status_for(Teapot()).code == StatusCode.FAILED_PRECONDITION


def test_status_for_validation_error_is_invalid_argument_naming_fields() -> None:
    with pytest.raises(ValidationError) as raised:
        Quantity.model_validate({"quantity": "many"})

    status = status_for(raised.value)

    assert status.code == StatusCode.INVALID_ARGUMENT
    assert status.details.startswith("invalid request: quantity: ")


def test_status_for_model_level_validation_error_has_no_field_prefix() -> None:
    with pytest.raises(ValidationError) as raised:
        Quantity.model_validate("not a mapping")

    assert status_for(raised.value).details.startswith("invalid request: Input should be")


def test_status_for_lost_optimistic_lock_is_aborted() -> None:
    assert status_for(StaleDataError("stale")).code == StatusCode.ABORTED


@pytest.mark.parametrize(
    ("sqlstate", "code"),
    [
        ("22021", StatusCode.INVALID_ARGUMENT),
        ("23505", StatusCode.ABORTED),
        ("42P01", StatusCode.INTERNAL),  # a bug (missing table), not an outage
        ("53300", StatusCode.UNAVAILABLE),  # too many connections: retry later
        ("57P01", StatusCode.UNAVAILABLE),  # the server is shutting down
        ("08006", StatusCode.UNAVAILABLE),  # the connection failed
    ],
)
def test_status_for_database_error_goes_by_sqlstate(sqlstate: str, code: StatusCode) -> None:
    error = DBAPIError("INSERT", {}, FakeSqlState(sqlstate))

    assert status_for(error).code == code


def test_status_for_timeout_is_deadline_exceeded() -> None:
    assert status_for(TimeoutError()).code == StatusCode.DEADLINE_EXCEEDED


def test_status_for_unexpected_error_is_internal_and_leaks_nothing() -> None:
    status = status_for(RuntimeError("password=hunter2"))

    assert (status.code, status.details, status.internal) == (
        StatusCode.INTERNAL,
        INTERNAL_DETAIL,
        True,
    )
