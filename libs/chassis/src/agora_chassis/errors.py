"""The domain error hierarchy and its RFC 9457 Problem Details rendering.

Services raise subclasses of these errors (``class UserNotFound(NotFound)``); one table here maps
each base class to an HTTP status, so no ``HTTPException`` is needed below ``api/``.

A second table, :data:`DEPENDENCY_ERRORS`, names the dependency behind each exception that means
"could not reach it" (database, Redis, a called service). Such a failure is no bug of the
request: it is answered 503 with ``Retry-After`` and logged with ``dependency=<name>`` (ADR 0011),
over HTTP here and as ``UNAVAILABLE`` over gRPC (:mod:`agora_chassis.grpc_errors`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

import httpx
import redis.exceptions
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agora_chassis.logging import correlation_id
from agora_chassis.state import ServiceStateError, service_state

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
SQLSTATE_DATA_EXCEPTION = "22"
SQLSTATE_INTEGRITY_VIOLATION = "23"
# Class 08 (connection exception), 53300 (too many connections) and 57P (the server is shutting
# down or not yet up): the database cannot serve now, but may in a moment.
SQLSTATE_UNREACHABLE = ("08", "53300", "57P")
DEPENDENCY_RETRY_AFTER_SECONDS = 5
DATABASE = "database"


class AgoraError(Exception):
    """Base of every error a service raises on purpose.

    Attributes:
        status: The HTTP status the error maps to.
        title: A short, fixed summary of the kind of problem.
        detail: What went wrong in this occurrence, safe to show to the caller.
        headers: Extra response headers (for example ``Retry-After``).
        commit_changes: When true, the request's transaction is committed before the error is
            answered. For refusals whose side effects must last (an audit entry, revoking a
            stolen token family); the error is still reported to the caller.
    """

    status: int = HTTPStatus.BAD_REQUEST
    title: str = "Bad request"
    commit_changes: bool = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(AgoraError):
    """The request cannot be processed as sent."""


class ValidationFailed(AgoraError):
    """The request is well-formed but breaks a rule of the domain."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "Validation failed"


class Unauthorized(AgoraError):
    """No valid credentials were presented."""

    status = HTTPStatus.UNAUTHORIZED
    title = "Not authenticated"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class Forbidden(AgoraError):
    """The caller is known but may not do this."""

    status = HTTPStatus.FORBIDDEN
    title = "Forbidden"


class NotFound(AgoraError):
    """The resource does not exist (or the caller may not know it does)."""

    status = HTTPStatus.NOT_FOUND
    title = "Not found"


class Conflict(AgoraError):
    """The request conflicts with the current state (duplicate, stale version)."""

    status = HTTPStatus.CONFLICT
    title = "Conflict"


class PreconditionFailed(AgoraError):
    """An ``If-Match`` or similar precondition does not hold."""

    status = HTTPStatus.PRECONDITION_FAILED
    title = "Precondition failed"


class PayloadTooLarge(AgoraError):
    """The request body is larger than the service accepts."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    title = "Payload too large"


class TooManyRequests(AgoraError):
    """A rate limit was hit; ``Retry-After`` says when to try again."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    title = "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(retry_after, 1))})
        self.retry_after = max(retry_after, 1)


class ServiceUnavailable(AgoraError):
    """A dependency the request needs is down."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    title = "Service unavailable"


class DependencyUnavailable(ServiceUnavailable, ConnectionError):
    """A dependency the request needs cannot be reached; the request may succeed later.

    Raise it where a dependency's failure is detected by other means than its client's own
    exception (which :data:`DEPENDENCY_ERRORS` already maps). The caller gets a 503 with
    ``Retry-After``; the dependency's name goes to the log, not to the caller. It is also a
    ``ConnectionError``, so code that handles a refused connection as an ``OSError`` (a CLI
    reporting an unreachable database, a consumer waiting for it) still recognises it.

    Attributes:
        dependency: What could not be reached (``database``, ``redis``...).
    """

    def __init__(self, dependency: str, detail: str | None = None) -> None:
        super().__init__(detail or f"{dependency} unreachable")
        self.dependency = dependency


DEPENDENCY_ERRORS: Mapping[type[Exception], str] = MappingProxyType(
    {
        # Lost or refused connections, as SQLAlchemy wraps the driver's errors; the engine of
        # agora_chassis.db turns a refused connect (a bare OSError) into DependencyUnavailable.
        sqlalchemy.exc.OperationalError: DATABASE,
        sqlalchemy.exc.InterfaceError: DATABASE,
        sqlalchemy.exc.TimeoutError: DATABASE,  # no pooled connection came free in time
        redis.exceptions.ConnectionError: "redis",
        redis.exceptions.TimeoutError: "redis",
        httpx.TimeoutException: "http-service",
        httpx.NetworkError: "http-service",
        httpx.RemoteProtocolError: "http-service",
    }
)
"""The dependency behind each exception class that means "could not reach it" (and a gRPC call
answered ``UNAVAILABLE``: :data:`GRPC_SERVICE`)."""

GRPC_SERVICE = "grpc-service"


def unreachable_dependency(error: BaseException) -> str | None:
    """Name the dependency ``error`` failed to reach, or None if it is no such failure.

    Args:
        error: Any exception a request or a call raised.

    Returns:
        A name from :data:`DEPENDENCY_ERRORS` (or the one a :class:`DependencyUnavailable`
        carries); None for every other error.
    """
    if isinstance(error, DependencyUnavailable):
        return error.dependency
    # Only a process that imported grpc can hold a gRPC error: a service that neither serves nor
    # calls gRPC never loads it (70 modules, 4.6 MiB; ADR 0013, test_lean_imports.py).
    if (grpc := sys.modules.get("grpc")) is not None and isinstance(error, grpc.aio.AioRpcError):
        return GRPC_SERVICE if error.code() == grpc.StatusCode.UNAVAILABLE else None
    for cls in type(error).__mro__:
        if (name := DEPENDENCY_ERRORS.get(cls)) is not None:
            return name
    if isinstance(error, DBAPIError) and _lost_database(error):
        return DATABASE
    return None


def _lost_database(error: DBAPIError) -> bool:
    """Whether a driver error says the server went away (killed, shutting down, starting)."""
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    return sqlstate.startswith(SQLSTATE_UNREACHABLE)


def problem(
    status: int,
    title: str,
    detail: str,
    instance: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build an RFC 9457 ``application/problem+json`` response.

    Args:
        status: HTTP status code.
        title: Short summary of the problem type.
        detail: Explanation of this occurrence.
        instance: The request path the problem occurred on.
        headers: Extra response headers.
        **extra: Extension members (for example ``errors`` for validation failures).

    Returns:
        The JSON response.
    """
    slug = HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")
    body: dict[str, Any] = {
        "type": f"https://agora.dev/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        errors.append(
            {"field": ".".join(location), "message": error.get("msg", ""), "type": error["type"]}
        )
    return errors


def problem_for(exc: AgoraError, instance: str) -> JSONResponse:
    """The Problem Details response of a domain error that happened on path ``instance``."""
    return problem(exc.status, exc.title, exc.detail, instance, headers=exc.headers, **exc.extra)


async def _agora_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AgoraError)  # noqa: S101 - registered for AgoraError only
    return problem_for(exc, request.url.path)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = _field_errors(exc)
    if any(error["type"] == "json_invalid" for error in errors):
        return problem(
            HTTPStatus.BAD_REQUEST,
            "Malformed JSON",
            "The body is not valid JSON.",
            request.url.path,
        )
    return problem(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "Validation failed",
        "The request has invalid fields.",
        request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    status = HTTPStatus(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else status.description
    return problem(status, status.phrase, detail, request.url.path, headers=exc.headers)


async def _stale_data(request: Request, _exc: Exception) -> JSONResponse:
    return problem(
        HTTPStatus.CONFLICT,
        "Conflict",
        "The resource was changed by someone else; reload it and try again.",
        request.url.path,
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    # SQLSTATE class 22 ("data exception"): the input passed validation but PostgreSQL refuses
    # it (a NUL byte, an out-of-range number). That is the caller's mistake, not a server fault.
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    if sqlstate.startswith(SQLSTATE_DATA_EXCEPTION):
        return problem(
            HTTPStatus.BAD_REQUEST,
            "Invalid value",
            "The request contains a value that cannot be stored (for example a NUL character).",
            request.url.path,
        )
    # Class 23 (a unique, foreign-key or check constraint) lost a race the service's own checks
    # could not see: the request conflicts with data written concurrently.
    if sqlstate.startswith(SQLSTATE_INTEGRITY_VIOLATION):
        return problem(
            HTTPStatus.CONFLICT,
            "Conflict",
            "The change conflicts with data written at the same time; reload and try again.",
            request.url.path,
        )
    return _internal_error(request, exc, {})


def _internal_error(request: Request, exc: Exception, headers: dict[str, str]) -> JSONResponse:
    if (dependency := unreachable_dependency(exc)) is not None:
        return _unavailable(request, exc, dependency, headers)
    logger.error("unhandled error on %s", request.url.path, exc_info=exc)
    return problem(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "Internal server error",
        "Something went wrong on our side; it has been logged.",
        request.url.path,
        headers=headers,
    )


def _retry_after(request: Request) -> int:
    """``AGORA_DEPENDENCY_RETRY_AFTER_SECONDS`` of a service app; the default for a bare app."""
    try:
        return service_state(request).settings.dependency_retry_after_seconds
    except (KeyError, ServiceStateError):  # no app in the scope, or not a service app
        return DEPENDENCY_RETRY_AFTER_SECONDS


def _unavailable(
    request: Request, exc: BaseException, dependency: str, headers: dict[str, str]
) -> JSONResponse:
    path = request.url.path
    retry_after = _retry_after(request)
    # WARNING, not ERROR: an outage of a dependency is no bug here, and readiness reports it.
    logger.warning(
        "dependency=%s unreachable on %s: %s",
        dependency,
        path,
        type(exc).__name__,
        exc_info=exc,
        extra={"dependency": dependency},
    )
    return problem(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "Service unavailable",
        "A service this request needs cannot be reached right now; try again shortly.",
        path,
        headers={**headers, "Retry-After": str(retry_after)},
    )


async def _dependency_error(request: Request, exc: Exception) -> JSONResponse:
    return _internal_error(request, exc, {})


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Reached only for errors raised by middleware; it runs outside the correlation middleware.
    request_id = correlation_id.get()
    return _internal_error(request, exc, {"X-Request-ID": request_id} if request_id else {})


class UnhandledErrorMiddleware:
    """Answer an unhandled exception with a 500 Problem Details, inside the middleware stack.

    Starlette's own last-resort handler sends the 500 and then re-raises, which makes uvicorn
    drop the keep-alive connection; the gateway's next request on that pooled connection then
    fails with a 502 for an unrelated caller. Caught here, innermost, the 500 is a normal
    response: it gets the request id, security headers and metrics like any other.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late for a clean answer; let the server close the connection
                raise
            await _internal_error(Request(scope), exc, {})(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Render every error the app can raise as Problem Details.

    The ``Retry-After`` of the 503 answered when a dependency is unreachable comes from the
    settings of a service app (``ServiceState``), else :data:`DEPENDENCY_RETRY_AFTER_SECONDS`.

    Args:
        app: The FastAPI application.
    """
    app.add_exception_handler(AgoraError, _agora_error)
    app.add_exception_handler(DependencyUnavailable, _dependency_error)
    for unreachable in DEPENDENCY_ERRORS:
        app.add_exception_handler(unreachable, _dependency_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StaleDataError, _stale_data)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)  # errors raised by middleware
    app.add_middleware(UnhandledErrorMiddleware)  # added first: innermost
