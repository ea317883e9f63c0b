"""An internal gRPC server (``grpc.aio``) with what every Agora service needs around its servicers.

:func:`start_grpc_server` adds, besides the service's own servicers:

* the standard health service (``grpc.health.v1.Health``): ``SERVING`` once started, for the
  whole server (``""``) and each named service, ``NOT_SERVING`` from the start of shutdown;
* server reflection when asked (never in the production profile: it hands a map of the
  internal API to anyone who reaches the port), so ``grpcurl`` and friends can list and call the
  services without the ``.proto`` files;
* :class:`~agora_chassis.grpc_auth.AuthInterceptor`: every call but health and reflection needs
  a service token with the method's scopes, and runs under its caller's correlation id;
* :class:`GuardInterceptor` on every unary call: it runs the servicer under the caller's deadline
  (capped at the service's own budget, so a call without a deadline cannot run forever), and
  answers an exception with the status code the chassis table gives it (:mod:`.grpc_errors`);
* an OpenTelemetry span per call (health checks excluded), continuing the caller's trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters

from agora_chassis.grpc_auth import AuthInterceptor, GrpcAuth
from agora_chassis.grpc_errors import status_for

logger = logging.getLogger(__name__)

DEFAULT_BUDGET_SECONDS = 30.0
"""The longest a call may run, whatever deadline its caller set (or none)."""
SHUTDOWN_GRACE_SECONDS = 5.0
REFLECTION_SERVICE = "grpc.reflection.v1alpha.ServerReflection"
"""``grpc_reflection``'s service name, spelled out: the module is imported only when reflection
is served (a test checks the two agree)."""

Context = grpc.aio.ServicerContext[Any, Any]
Behavior = Callable[[Any, Context], Awaitable[Any]]
Register = Callable[[grpc.aio.Server], None]


class BindError(RuntimeError):
    """The server could not listen on the requested address."""


def call_budget(context: Context, limit: float) -> float:
    """Seconds the call may still run: the caller's remaining deadline, capped at ``limit``."""
    remaining = context.time_remaining()
    return limit if remaining is None else max(min(remaining, limit), 0.0)


async def _answer(
    behavior: Behavior, request: Any, context: Context, scope: asyncio.Timeout, method: str
) -> Any:
    """Run the servicer within ``scope``; answer an exception with its table status."""
    try:
        async with scope:
            return await behavior(request, context)
    except grpc.aio.AbortError:  # the servicer chose its own status
        raise
    except Exception as error:  # every error becomes a status, never a crash
        status = status_for(error)
        if status.internal:
            logger.exception("gRPC call %s failed", method)
        elif status.dependency is not None:
            logger.warning(
                "dependency=%s unreachable in gRPC call %s",
                status.dependency,
                method,
                exc_info=error,
                extra={"dependency": status.dependency},
            )
        await context.abort(status.code, status.details, status.trailing_metadata)


def guard(behavior: Behavior, method: str, limit: float) -> Behavior:
    """Wrap a unary servicer method with the deadline and the error table.

    The servicer runs in a task of its own, cancelled at most once. gRPC cancels the handler
    when the caller's deadline passes (or the caller hangs up), often just as the servicer's own
    timeout is unwinding it; a second cancellation in the middle of that unwinding would cut
    the database driver's cancel request short and leave the query running on the server.

    Args:
        behavior: The servicer's coroutine method.
        method: The full method name, for the log.
        limit: The longest the call may run, in seconds.

    Returns:
        A coroutine method with the same signature.
    """

    async def guarded(request: Any, context: Context) -> Any:
        scope = asyncio.timeout(call_budget(context, limit))
        work = asyncio.ensure_future(_answer(behavior, request, context, scope, method))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            if work.cancelling() == 0:  # its own timeout is not unwinding it already...
                with contextlib.suppress(RuntimeError):  # (not entered yet, or exiting)
                    scope.reschedule(None)  # ...and will not start to
                work.cancel()
            await asyncio.wait([work])
            if not work.cancelled():
                work.exception()  # retrieved: the caller is gone, nobody else will
            raise

    return guarded


class GuardInterceptor(grpc.aio.ServerInterceptor):
    """Applies :func:`guard` to every unary-unary method; streaming methods pass unchanged."""

    def __init__(self, limit: float = DEFAULT_BUDGET_SECONDS) -> None:
        """Cap every call at ``limit`` seconds."""
        self.limit = limit

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        """Return the method's handler, its unary behaviour guarded."""
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            guard(handler.unary_unary, handler_call_details.method, self.limit),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


@dataclass(frozen=True)
class GrpcServer:
    """A running server and its health service.

    Attributes:
        server: The ``grpc.aio`` server.
        health: The health servicer (to mark services ``NOT_SERVING``).
        port: The port it listens on (the bound one when asked for port 0).
    """

    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int

    async def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Report ``NOT_SERVING``, refuse new calls, and give running ones ``grace`` seconds."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


def _interceptors(auth: GrpcAuth, limit: float) -> list[grpc.aio.ServerInterceptor]:
    untraced = filters.any_of(
        filters.service_name(health.SERVICE_NAME), filters.service_name(REFLECTION_SERVICE)
    )
    tracing: grpc.aio.ServerInterceptor = aio_server_interceptor(  # type: ignore[no-untyped-call]
        filter_=filters.negate(untraced)
    )
    # Tracing outermost: spans carry the final status, refusals included. Authentication before
    # the guard: a refused call never starts the servicer's task.
    return [tracing, AuthInterceptor(auth), GuardInterceptor(limit)]


def _enable_reflection(server: grpc.aio.Server, service_names: Sequence[str]) -> None:
    """Serve reflection for ``service_names``, health and reflection itself."""
    from grpc_reflection.v1alpha import reflection  # only now: most servers never need it

    reflection.enable_server_reflection(
        [*service_names, health.SERVICE_NAME, REFLECTION_SERVICE], server
    )


async def start_grpc_server(
    register: Register,
    service_names: Sequence[str],
    *,
    host: str,
    port: int,
    auth: GrpcAuth,
    limit: float = DEFAULT_BUDGET_SECONDS,
    reflection_enabled: bool = False,
) -> GrpcServer:
    """Start a server with the service's servicers, health checking and, if asked, reflection.

    Args:
        register: Adds the service's servicers (``add_XServicer_to_server``).
        service_names: Full names of those services (``agora.catalog.v1.CatalogService``), for
            health and reflection.
        host: Address to listen on.
        port: Port to listen on; 0 picks a free one.
        auth: The token verifier and the scopes each method needs.
        limit: The longest one call may run, in seconds.
        reflection_enabled: Serve reflection (development and test only).

    Returns:
        The running server; call :meth:`GrpcServer.stop` at shutdown.

    Raises:
        BindError: The address is taken or invalid.
    """
    # Without SO_REUSEPORT (gRPC's default is on), a second server on a taken port fails loudly
    # instead of silently sharing the port with whatever holds it.
    server = grpc.aio.server(
        interceptors=_interceptors(auth, limit), options=[("grpc.so_reuseport", 0)]
    )
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if reflection_enabled:
        _enable_reflection(server, service_names)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as error:
        raise BindError(f"gRPC cannot listen on {host}:{port}: {error}") from error
    await server.start()
    serving = health_pb2.HealthCheckResponse.SERVING
    for name in ("", *service_names):
        await health_servicer.set(name, serving)
    logger.info("gRPC server listening on %s:%d (%s)", host, bound, ", ".join(service_names))
    return GrpcServer(server=server, health=health_servicer, port=bound)
