"""Domain errors as gRPC status codes: the gRPC half of the table in :mod:`agora_chassis.errors`.

Each ``AgoraError`` class carries its HTTP status (``ProductNotFound(NotFound)`` is a 404); this
module maps that status to a gRPC code, so one class decides both answers and a new domain error
needs no gRPC-specific code. Errors that are not ``AgoraError`` get the same treatment as in the
HTTP handlers: invalid input is ``INVALID_ARGUMENT``, a lost optimistic-locking race is
``ABORTED`` (retry the read-modify-write), an expired time budget is ``DEADLINE_EXCEEDED``, an
unreachable dependency (the table :data:`agora_chassis.errors.DEPENDENCY_ERRORS`) is
``UNAVAILABLE`` with a ``retry-after`` trailer, and anything else is ``INTERNAL`` with a message
that leaks nothing.

Following the gRPC status code guide, ``Conflict`` (409) maps to ``FAILED_PRECONDITION``: a
duplicate SKU or too little stock does not go away by retrying the same call, so clients must not
retry it blindly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from types import MappingProxyType

import grpc
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from agora_chassis.errors import (
    DEPENDENCY_RETRY_AFTER_SECONDS,
    SQLSTATE_DATA_EXCEPTION,
    SQLSTATE_INTEGRITY_VIOLATION,
    AgoraError,
    unreachable_dependency,
)

STATUS_BY_HTTP: Mapping[int, grpc.StatusCode] = MappingProxyType(
    {
        HTTPStatus.BAD_REQUEST: grpc.StatusCode.INVALID_ARGUMENT,
        HTTPStatus.UNAUTHORIZED: grpc.StatusCode.UNAUTHENTICATED,
        HTTPStatus.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
        HTTPStatus.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
        HTTPStatus.CONFLICT: grpc.StatusCode.FAILED_PRECONDITION,
        HTTPStatus.PRECONDITION_FAILED: grpc.StatusCode.FAILED_PRECONDITION,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
        HTTPStatus.UNPROCESSABLE_ENTITY: grpc.StatusCode.INVALID_ARGUMENT,
        HTTPStatus.PRECONDITION_REQUIRED: grpc.StatusCode.FAILED_PRECONDITION,
        HTTPStatus.TOO_MANY_REQUESTS: grpc.StatusCode.RESOURCE_EXHAUSTED,
        HTTPStatus.NOT_IMPLEMENTED: grpc.StatusCode.UNIMPLEMENTED,
        HTTPStatus.SERVICE_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
        HTTPStatus.GATEWAY_TIMEOUT: grpc.StatusCode.DEADLINE_EXCEEDED,
    }
)
"""The gRPC code of each HTTP status a domain error can carry."""

INTERNAL_DETAIL = "Something went wrong on our side; it has been logged."
UNAVAILABLE_DETAIL = "a service this call needs cannot be reached right now; try again shortly"
MAX_DETAIL_CHARS = 1000
MAX_FIELD_ERRORS = 10


@dataclass(frozen=True)
class GrpcStatus:
    """What to answer a failed call with.

    Attributes:
        code: The status code.
        details: A message safe to show to the caller.
        trailing_metadata: Extra trailers (an error's headers, such as ``retry-after``).
        dependency: The unreachable dependency behind an ``UNAVAILABLE``, for the log.
    """

    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str], ...] = ()
    dependency: str | None = None

    @property
    def internal(self) -> bool:
        """Whether this is a server fault, worth logging with its stack."""
        return self.code in {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}


def code_for_http_status(status: int) -> grpc.StatusCode:
    """The gRPC code of an HTTP status: from the table, else by class (4xx, 5xx).

    An unlisted 4xx is ``FAILED_PRECONDITION`` (the call was refused as the system stands); an
    unlisted 5xx is ``INTERNAL``.
    """
    if (code := STATUS_BY_HTTP.get(status)) is not None:
        return code
    if HTTPStatus.BAD_REQUEST <= status < HTTPStatus.INTERNAL_SERVER_ERROR:
        return grpc.StatusCode.FAILED_PRECONDITION
    return grpc.StatusCode.INTERNAL


def _field_errors(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:MAX_FIELD_ERRORS]:
        location = ".".join(str(part) for part in item["loc"])
        parts.append(f"{location}: {item['msg']}" if location else item["msg"])
    return "invalid request: " + "; ".join(parts)


def _database_status(error: DBAPIError) -> GrpcStatus:
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None) or ""
    if sqlstate.startswith(SQLSTATE_DATA_EXCEPTION):
        return GrpcStatus(
            grpc.StatusCode.INVALID_ARGUMENT, "the request contains a value that cannot be stored"
        )
    if sqlstate.startswith(SQLSTATE_INTEGRITY_VIOLATION):
        return GrpcStatus(
            grpc.StatusCode.ABORTED, "the change conflicts with data written at the same time"
        )
    return GrpcStatus(grpc.StatusCode.INTERNAL, INTERNAL_DETAIL)


def status_for(error: BaseException) -> GrpcStatus:
    """Translate an exception raised by a servicer into the status to answer with.

    Args:
        error: What the servicer raised.

    Returns:
        The code, a caller-safe message, and trailers.
    """
    if (dependency := unreachable_dependency(error)) is not None:
        trailer = (("retry-after", str(DEPENDENCY_RETRY_AFTER_SECONDS)),)
        return GrpcStatus(grpc.StatusCode.UNAVAILABLE, UNAVAILABLE_DETAIL, trailer, dependency)
    if isinstance(error, AgoraError):
        trailers = tuple((name.lower(), value) for name, value in sorted(error.headers.items()))
        details = error.detail[:MAX_DETAIL_CHARS]
        return GrpcStatus(code_for_http_status(error.status), details, trailers)
    return _foreign_status(error)


def _foreign_status(error: BaseException) -> GrpcStatus:
    """The status of an error that is no ``AgoraError``: the library's, or a bug."""
    if isinstance(error, ValidationError):
        details = _field_errors(error)[:MAX_DETAIL_CHARS]
        return GrpcStatus(grpc.StatusCode.INVALID_ARGUMENT, details)
    if isinstance(error, StaleDataError):
        details = "the resource was changed by someone else; reload it and try again"
        return GrpcStatus(grpc.StatusCode.ABORTED, details)
    if isinstance(error, DBAPIError):
        return _database_status(error)
    if isinstance(error, TimeoutError):
        return GrpcStatus(grpc.StatusCode.DEADLINE_EXCEEDED, "the call ran out of time")
    return GrpcStatus(grpc.StatusCode.INTERNAL, INTERNAL_DETAIL)
