"""The one way a service calls another: a deadline, retries, a circuit breaker, metrics (ADR 0017).

One :class:`ServiceClient` per target, made at start-up and kept for the process's life::

    tokens = ServiceTokenSource.from_settings(settings)
    catalog_stub = CatalogServiceStub(service_channel(settings.catalog_grpc_target, tokens))
    catalog = ServiceClient("catalog", policy=CallPolicy.from_settings(settings))

    reply = await catalog.call(catalog_stub.GetProducts, request, idempotent=True)

    psp = ServiceClient("psp", policy=CallPolicy.from_settings(settings), tokens=tokens)
    response = await psp.request(http_client, "POST", url, json=body, idempotent=False)

Each call gets a deadline (the policy's, or ``deadline=`` for this call) that bounds every attempt
and every wait together. Transient failures (:mod:`agora_chassis.call_outcomes`) are retried with
jittered exponential backoff (:mod:`agora_chassis.call_policy`); permanent ones reach the caller at
once: the gRPC error as raised, the HTTP response as answered. When the target's breaker is open,
or a transient failure ends the call, the client raises :class:`TargetUnavailable`, a
``DependencyUnavailable`` naming the target: uncaught, a route answers 503 with ``Retry-After``
and a servicer ``UNAVAILABLE`` (ADR 0011); caught, the caller serves its fallback.

The service token, correlation id and trace context travel in the gRPC channel's interceptors
(:func:`agora_chassis.service_tokens.service_channel`); over HTTP the client adds the same three
headers itself (:func:`outgoing_headers`). This module imports no gRPC: a service that calls only
over HTTP never loads it (ADR 0013).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import httpx
from opentelemetry import propagate

from agora_chassis.breaker import BreakerState, CircuitBreaker
from agora_chassis.call_outcomes import (
    IDEMPOTENT_HTTP_METHODS,
    Failure,
    deadline_failure,
    grpc_failure,
    http_error_failure,
    http_status_failure,
)
from agora_chassis.call_policy import CallPolicy, Random, wait_before_retry
from agora_chassis.client_metrics import ClientMetrics, Outcome, default_client_metrics
from agora_chassis.errors import DependencyUnavailable
from agora_chassis.health import Check, ProbeFailedError
from agora_chassis.logging import correlation_id

if TYPE_CHECKING:
    import grpc

    from agora_chassis.service_tokens import TokenProvider

logger = logging.getLogger(__name__)

AUTHORIZATION_HEADER = "authorization"
REQUEST_ID_HEADER = "x-request-id"

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
GiveUpReason = Literal["breaker open", "unavailable"]


class TargetUnavailable(DependencyUnavailable):
    """A called service cannot serve this call now: its breaker is open, or it kept failing.

    A ``DependencyUnavailable`` (ADR 0011): uncaught, the caller's caller gets a 503 with
    ``Retry-After`` (or ``UNAVAILABLE`` over gRPC). The last failure is the ``__cause__``.

    Attributes:
        target: The called service (also ``dependency``).
        reason: ``breaker open`` or ``unavailable`` (a transient failure ended the call).
        retry_after: Seconds until the breaker allows a trial, or the wait the target asked
            for, when known.
    """

    def __init__(self, target: str, reason: GiveUpReason, retry_after: float | None = None) -> None:
        super().__init__(target, f"{target} unavailable ({reason})")
        self.target = target
        self.reason = reason
        self.retry_after = retry_after


@dataclass(slots=True)
class _Attempt[T]:
    """What one attempt gave: a result or an error, and how it failed (``None``: it did not)."""

    result: T | None
    error: BaseException | None
    failure: Failure | None


@dataclass(frozen=True, slots=True)
class _Exchange[T]:
    """How to send one attempt of a call and judge its result or error."""

    send: Callable[[float], Awaitable[T]]
    judge_result: Callable[[T], Failure | None]
    judge_error: Callable[[Exception], Failure | None]
    idempotent: bool


class ServiceClient:
    """Calls to one target (``catalog``, ``psp``) under one policy and one circuit breaker.

    Args:
        target: The called service's name, in metrics, logs and ``TargetUnavailable``.
        policy: Deadline, retries and breaker thresholds; the defaults when ``None``.
        metrics: Where to count; the process's default set when ``None``.
        tokens: Service tokens for HTTP calls (gRPC channels carry their own); ``None`` sends
            no ``Authorization`` (a third party such as the payment provider).
        clock: Monotonic seconds; fake in tests, as ``sleep`` and ``random``.
        sleep: Waits between attempts.
        random: Floats in ``[0, 1)`` for the backoff's jitter.
    """

    def __init__(
        self,
        target: str,
        *,
        policy: CallPolicy | None = None,
        metrics: ClientMetrics | None = None,
        tokens: TokenProvider | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        random: Random = random.random,
    ) -> None:
        self.target = target
        self.policy = policy or CallPolicy()
        self.metrics = metrics or default_client_metrics()
        self.tokens = tokens
        self._clock, self._sleep, self._random = clock, sleep, random
        self.breaker = CircuitBreaker(
            self.policy.breaker, clock=clock, on_transition=self._breaker_moved
        )
        self.metrics.observe_state(target, BreakerState.CLOSED)

    @property
    def breaker_state(self) -> BreakerState:
        """The target's breaker state (for readiness, or to skip a call known to fail)."""
        return self.breaker.state

    async def call[RequestT, ResponseT](
        self,
        method: grpc.aio.UnaryUnaryMultiCallable[RequestT, ResponseT],
        request: RequestT,
        *,
        idempotent: bool = False,
        deadline: float | None = None,
        **options: Any,
    ) -> ResponseT:
        """Make a unary gRPC call under the policy.

        Args:
            method: The stub's method (``stub.GetProducts``) on a :func:`service_channel`.
            request: The request message.
            idempotent: Whether repeating the call is harmless (a read); only then is a call
                that ran out of time tried again.
            deadline: Seconds for this call, retries included (the policy's when ``None``).
            **options: Passed to the method (``metadata``, ``wait_for_ready``...).

        Returns:
            The response message.

        Raises:
            TargetUnavailable: The breaker is open, or a transient failure ended the call.
            grpc.aio.AioRpcError: The target answered with a permanent error.
        """

        async def send(budget: float) -> ResponseT:
            return await method(request, timeout=budget, **options)

        def judge_error(error: Exception) -> Failure | None:
            import grpc

            if not isinstance(error, grpc.aio.AioRpcError):
                return None
            trailers = tuple(error.trailing_metadata() or ())
            return grpc_failure(error.code().name, trailers, idempotent=idempotent)

        return await self._run(_Exchange(send, _no_failure, judge_error, idempotent), deadline)

    async def request(
        self,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        idempotent: bool | None = None,
        deadline: float | None = None,
        headers: dict[str, str] | None = None,
        retry_server_errors: bool = False,
        **options: Any,
    ) -> httpx.Response:
        """Send an HTTP request under the policy, with the service token and trace headers.

        Args:
            http: The client to send with (its connection pool is reused).
            method: The HTTP method.
            url: Absolute URL, or relative to the client's ``base_url``.
            idempotent: Whether repeating the request is harmless; by default, whether the
                method is idempotent (RFC 9110: ``GET``, ``PUT``, ``DELETE``...).
            deadline: Seconds for this call, retries included (the policy's when ``None``).
            headers: Extra request headers.
            retry_server_errors: Retry a 500 (and other 5xx) of an idempotent request, for a
                target whose 500s are passing failures (see :mod:`agora_chassis.call_outcomes`).
            **options: Passed to ``httpx.AsyncClient.build_request`` (``json``, ``params``...).

        Returns:
            The response, read; any status the target chose, transient ones excepted.

        Raises:
            TargetUnavailable: The breaker is open, or a transient failure ended the call.
        """
        repeatable = method.upper() in IDEMPOTENT_HTTP_METHODS if idempotent is None else idempotent

        async def send(budget: float) -> httpx.Response:
            sent = {**(headers or {}), **await outgoing_headers(self.tokens)}
            built = http.build_request(method, url, headers=sent, timeout=budget, **options)
            response = await http.send(built)
            await response.aread()
            return response

        def judge_result(response: httpx.Response) -> Failure | None:
            return http_status_failure(
                response, idempotent=repeatable, retry_server_errors=retry_server_errors
            )

        def judge_error(error: Exception) -> Failure | None:
            return http_error_failure(error, idempotent=repeatable)

        return await self._run(_Exchange(send, judge_result, judge_error, repeatable), deadline)

    async def _run[T](self, exchange: _Exchange[T], deadline: float | None) -> T:
        """Attempt until an answer, a permanent failure, or the attempts or the time run out."""
        if deadline is not None and deadline <= 0:
            raise ValueError("deadline must be positive")
        started = self._clock()
        ends_at = started + (self.policy.deadline_seconds if deadline is None else deadline)
        retry = 0
        while True:
            attempt = await self._attempt(exchange, ends_at, started)
            if attempt.failure is None or not attempt.failure.transient:
                return self._answer(attempt, started)
            remaining = ends_at - self._clock()
            wait = wait_before_retry(
                self.policy, attempt.failure, retry=retry, remaining=remaining, random=self._random
            )
            if wait is not None:
                logger.debug("retrying %s in %.3f s after %s", self.target, wait, attempt.failure)
                self.metrics.observe_retry(self.target)
                await self._sleep(wait)
                retry += 1
            if wait is None or ends_at - self._clock() <= 0:
                self._finish("unavailable", started)
                raise TargetUnavailable(
                    self.target, "unavailable", attempt.failure.retry_after
                ) from attempt.error

    async def _attempt[T](
        self, exchange: _Exchange[T], ends_at: float, started: float
    ) -> _Attempt[T]:
        """One attempt under the breaker, with what is left of the deadline."""
        if (permit := self.breaker.acquire()) is None:
            self._finish("rejected", started)
            raise TargetUnavailable(self.target, "breaker open", self.breaker.cool_down_left())
        budget = self.policy.attempt_budget(ends_at - self._clock())
        try:
            attempt = await _send(exchange, budget)
        except BaseException:  # cancelled, or no failure of the target's: it proves nothing
            self.breaker.abandoned(permit)
            raise
        if attempt.failure is not None and attempt.failure.breaker_failure:
            self.breaker.failed(permit)
        else:
            self.breaker.succeeded(permit)
        return attempt

    def _answer[T](self, attempt: _Attempt[T], started: float) -> T:
        """The target's answer: a result (a permanent HTTP error included) or its error."""
        self._finish("ok" if attempt.failure is None else "error", started)
        if attempt.error is not None:
            raise attempt.error
        return attempt.result  # type: ignore[return-value]  # set when there is no error

    def _finish(self, outcome: Outcome, started: float) -> None:
        self.metrics.observe_call(self.target, outcome, self._clock() - started)

    def _breaker_moved(self, old: BreakerState, new: BreakerState) -> None:
        self.metrics.observe_transition(self.target, new)
        log = logger.warning if new is BreakerState.OPEN else logger.info
        log(
            "circuit breaker of %s: %s -> %s",
            self.target,
            old.label,
            new.label,
            extra={"dependency": self.target},
        )


async def _send[T](exchange: _Exchange[T], budget: float) -> _Attempt[T]:
    """Send once within ``budget`` seconds and judge what came back."""
    try:
        async with asyncio.timeout(budget):
            result = await exchange.send(budget)
    except TimeoutError as error:  # our deadline, whichever step it caught
        return _Attempt(None, error, deadline_failure(idempotent=exchange.idempotent))
    except Exception as error:
        if (failure := exchange.judge_error(error)) is None:
            raise  # no transport failure: a bug, or the token source's own error
        return _Attempt(None, error, failure)
    return _Attempt(result, None, exchange.judge_result(result))


def _no_failure(_result: object) -> Failure | None:
    """A gRPC response is always a success: failures arrive as errors."""
    return None


async def outgoing_headers(tokens: TokenProvider | None) -> dict[str, str]:
    """The headers an internal HTTP call carries: the token, correlation id and trace context.

    The same three values :func:`agora_chassis.service_tokens.outgoing_metadata` puts in gRPC
    metadata.

    Args:
        tokens: Where the service token comes from; ``None`` sends no ``Authorization``.

    Returns:
        Header names (lower case) and values.
    """
    headers: dict[str, str] = {}
    if tokens is not None:
        headers[AUTHORIZATION_HEADER] = f"Bearer {await tokens.token()}"
    if (request_id := correlation_id.get()) is not None:
        headers[REQUEST_ID_HEADER] = request_id
    propagate.inject(headers)
    return headers


def breaker_check(client: ServiceClient, *, critical: bool = False) -> Check:
    """A readiness check that fails while the target's breaker is not closed.

    Non-critical by default: a service with an open breaker still serves (from its fallback),
    so readiness says ``degraded`` rather than taking it out of the load balancer.

    Args:
        client: The client whose breaker to report.
        critical: Whether the service is unusable while the breaker is open.

    Returns:
        A check for :func:`agora_chassis.health.health_router`, named by the caller
        (``{"catalog": breaker_check(catalog)}``).
    """

    async def probe() -> None:
        state = client.breaker_state
        if state is not BreakerState.CLOSED:
            raise ProbeFailedError(f"{client.target} circuit breaker {state.label}")

    return Check(probe, critical=critical)
