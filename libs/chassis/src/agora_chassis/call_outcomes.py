"""Which failures of an outgoing call are worth another try, and which say the target is sick.

One table per protocol, read by :class:`agora_chassis.service_client.ServiceClient`:

============================  =========  ==========================  ================
failure                       transient  retried                     breaker failure
============================  =========  ==========================  ================
gRPC ``UNAVAILABLE``          yes        yes                         yes
gRPC ``DEADLINE_EXCEEDED``    yes        idempotent calls only       yes
gRPC ``RESOURCE_EXHAUSTED``   with a     yes, after ``retry-after``  no
                              trailer
gRPC ``INTERNAL``/``UNKNOWN``/no         no                          yes
``DATA_LOSS``
other gRPC codes              no         no                          no
HTTP connect error/timeout    yes        yes (nothing was sent)      yes
HTTP read timeout, lost conn. yes        idempotent calls only       yes
HTTP 503                      yes        yes                         yes
HTTP 502, 504                 yes        idempotent calls only       yes
HTTP 429 with ``Retry-After`` yes        yes, after ``Retry-After``  no
HTTP 500 (and other 5xx)      no [*]     no [*]                      yes
other HTTP 4xx                no         no                          no
============================  =========  ==========================  ================

[*] A 500 usually means a bug in the target, which another try does not fix, so it is final by
default. A caller whose target documents its 500s as passing failures, with every request keyed
so that a repeat is harmless (a card processor under an ``Idempotency-Key``), asks for them to be
retried like a 503: ``ServiceClient.request(..., retry_server_errors=True)``.

A transient failure that ends the call (attempts or time used up) becomes
:class:`~agora_chassis.service_client.TargetUnavailable`, a 503 to the caller's caller; a
permanent one is the target's answer and reaches the caller unchanged. ``RESOURCE_EXHAUSTED``
without a ``retry-after`` trailer is permanent: the chassis maps both 413 and 429 to that code
(:mod:`agora_chassis.grpc_errors`) and only the rate limit sends the trailer, and gRPC itself
uses it for a message over the size limit, which no retry cures. A rate limit is no sign of a
sick target, so it does not count against the breaker.

This module does not import gRPC: a service that calls only over HTTP never loads it (ADR 0013).
The gRPC half reads the status code's *name*, which needs no import.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus

import httpx

RETRY_AFTER = "retry-after"
GRPC_TRANSIENT = frozenset({"UNAVAILABLE"})
GRPC_SERVER_FAULTS = frozenset({"INTERNAL", "UNKNOWN", "DATA_LOSS"})
HTTP_RETRIED_ALWAYS = frozenset({HTTPStatus.SERVICE_UNAVAILABLE})
HTTP_RETRIED_IF_IDEMPOTENT = frozenset({HTTPStatus.BAD_GATEWAY, HTTPStatus.GATEWAY_TIMEOUT})
IDEMPOTENT_HTTP_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
"""RFC 9110 §9.2.2: repeating these has the effect of sending them once."""


@dataclass(frozen=True, slots=True)
class Failure:
    """How the client treats one failed attempt.

    Attributes:
        reason: A short name for logs (``UNAVAILABLE``, ``http 503``, ``connect error``).
        transient: The target may answer later: a call it ends raises ``TargetUnavailable``.
        retryable: Another attempt is safe and may succeed now.
        breaker_failure: Counts against the target's circuit breaker.
        retry_after: Seconds the target asked the caller to wait, if it said.
    """

    reason: str
    transient: bool
    retryable: bool
    breaker_failure: bool
    retry_after: float | None = None


DEADLINE_PASSED = "deadline exceeded"


def deadline_failure(*, idempotent: bool) -> Failure:
    """The failure of an attempt that ran out of time (gRPC ``DEADLINE_EXCEEDED``, a timeout).

    Args:
        idempotent: Whether repeating the call is harmless; a call that timed out may have
            been carried out.

    Returns:
        A transient failure, retried only for idempotent calls.
    """
    return Failure(DEADLINE_PASSED, transient=True, retryable=idempotent, breaker_failure=True)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP-date.

    Args:
        value: The header or trailer value.
        now: Current POSIX time for an HTTP-date (``time.time()`` when ``None``).

    Returns:
        Seconds (0 for a date in the past), or ``None`` when absent or unreadable.
    """
    if value is None or not (value := value.strip()):
        return None
    if value.isdigit():
        return float(value)
    try:
        moment: datetime = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000" dates: RFC 5322 says UTC
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def _retry_after_of(metadata: Iterable[tuple[str, str | bytes]]) -> float | None:
    for key, value in metadata:
        if key.lower() == RETRY_AFTER and isinstance(value, str):
            return parse_retry_after(value)
    return None


def grpc_failure(
    code_name: str, trailers: Iterable[tuple[str, str | bytes]], *, idempotent: bool
) -> Failure:
    """Classify a gRPC status other than ``OK``.

    Args:
        code_name: The status code's name (``grpc.StatusCode.UNAVAILABLE.name``).
        trailers: The call's trailing metadata (for ``retry-after``).
        idempotent: Whether repeating the call is harmless.

    Returns:
        How to treat the failure.
    """
    if code_name in GRPC_TRANSIENT:
        return Failure(code_name, transient=True, retryable=True, breaker_failure=True)
    if code_name == "DEADLINE_EXCEEDED":
        return deadline_failure(idempotent=idempotent)
    if code_name == "RESOURCE_EXHAUSTED" and (wait := _retry_after_of(trailers)) is not None:
        return Failure(
            code_name, transient=True, retryable=True, breaker_failure=False, retry_after=wait
        )
    return Failure(
        code_name, transient=False, retryable=False, breaker_failure=code_name in GRPC_SERVER_FAULTS
    )


def http_status_failure(
    response: httpx.Response, *, idempotent: bool, retry_server_errors: bool = False
) -> Failure | None:
    """Classify an HTTP answer.

    Args:
        response: The answer (its headers are read, never its body).
        idempotent: Whether repeating the request is harmless.
        retry_server_errors: Treat a 500 (and other 5xx) of an idempotent request as transient.

    Returns:
        ``None`` for a success (below 400), else how to treat the failure.
    """
    status = response.status_code
    if status < HTTPStatus.BAD_REQUEST:
        return None
    reason = f"http {status}"
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        wait = parse_retry_after(response.headers.get(RETRY_AFTER))
        transient = wait is not None
        return Failure(
            reason, transient, retryable=transient, breaker_failure=False, retry_after=wait
        )
    if status in HTTP_RETRIED_ALWAYS or status in HTTP_RETRIED_IF_IDEMPOTENT:
        retryable = idempotent or status in HTTP_RETRIED_ALWAYS
        wait = parse_retry_after(response.headers.get(RETRY_AFTER))
        return Failure(reason, True, retryable, breaker_failure=True, retry_after=wait)
    server_fault = status >= HTTPStatus.INTERNAL_SERVER_ERROR
    if server_fault and retry_server_errors and idempotent:
        return Failure(reason, transient=True, retryable=True, breaker_failure=True)
    return Failure(reason, transient=False, retryable=False, breaker_failure=server_fault)


def http_error_failure(error: Exception, *, idempotent: bool) -> Failure | None:
    """Classify an exception raised by httpx while sending a request.

    Args:
        error: What ``AsyncClient.send`` raised.
        idempotent: Whether repeating the request is harmless.

    Returns:
        How to treat the failure; ``None`` for an exception that is no transport failure (a
        bug, a malformed URL), which the client lets through untouched.
    """
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        # The request never left: repeating it is safe whatever it does.
        return Failure(type(error).__name__, transient=True, retryable=True, breaker_failure=True)
    if isinstance(error, httpx.TimeoutException):
        return deadline_failure(idempotent=idempotent)
    if isinstance(error, httpx.NetworkError | httpx.RemoteProtocolError):
        # The request may have reached the target before the connection broke.
        reason = type(error).__name__
        return Failure(reason, transient=True, retryable=idempotent, breaker_failure=True)
    return None
