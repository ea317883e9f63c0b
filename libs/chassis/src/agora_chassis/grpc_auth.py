"""Authentication of internal gRPC calls: service tokens, per-method scopes, correlation id.

Every call must carry ``authorization: Bearer <service token>`` metadata: a client-credentials
token from identity (``token_use: "service"``), verified against the same JWKS as user tokens
(:class:`~agora_chassis.auth.TokenVerifier`). A user's access token is refused, so the internal
API is reachable by services only. Health checking and reflection stay open (probes and
``grpcurl`` carry no token).

Each servicer declares the scopes of its methods (:class:`GrpcAuth`); a method it did not declare
is refused, so a new RPC is closed until someone decides who may call it. Outcomes:

* no token, a malformed, forged, expired or wrong-audience one, or a user token:
  ``UNAUTHENTICATED``;
* a valid token lacking a scope the method needs, or an undeclared method: ``PERMISSION_DENIED``.

Server-streaming and bidirectional methods must be async generators (not ``context.write``).
The servicer reads the caller with :func:`current_principal`. The interceptor also restores the
caller's correlation id (``x-request-id`` metadata, else a new one) into the logging context, so
the servicer's log lines carry the id of the user action that caused the call.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NoReturn

import grpc
from uuid_utils import uuid7

from agora_chassis.auth import Principal, TokenVerifier
from agora_chassis.errors import AgoraError
from agora_chassis.grpc_errors import code_for_http_status
from agora_chassis.logging import correlation_id
from agora_chassis.middleware import REQUEST_ID_HEADER, REQUEST_ID_MAX_LENGTH

logger = logging.getLogger(__name__)

AUTHORIZATION_METADATA = "authorization"
REQUEST_ID_METADATA = REQUEST_ID_HEADER.lower()
"""gRPC metadata keys are lower case; the value is the HTTP ``X-Request-ID`` of the action."""
_REQUEST_ID_RE = re.compile(rf"^[A-Za-z0-9._-]{{1,{REQUEST_ID_MAX_LENGTH}}}$")
_BEARER_PREFIX = "bearer "
VERIFIED_TOKENS_KEPT = 256
"""Verified tokens remembered per server (a caller reuses its token for minutes; few callers)."""
OPEN_SERVICES = frozenset({"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"})
"""Services answered without a token: probes and tooling must reach them."""

Context = grpc.aio.ServicerContext[Any, Any]

_principal: ContextVar[Principal | None] = ContextVar("grpc_principal", default=None)


def current_principal() -> Principal:
    """The service calling the current gRPC method.

    Returns:
        The verified principal (``subject`` is ``service:<client id>``).

    Raises:
        LookupError: Called outside an authenticated gRPC call.
    """
    principal = _principal.get()
    if principal is None:
        raise LookupError("no authenticated gRPC call in this context")
    return principal


@dataclass(frozen=True)
class GrpcAuth:
    """How a server authenticates calls.

    Attributes:
        verifier: Verifies service tokens (built with ``token_use=SERVICE_TOKEN_USE``).
        scopes: Full method name (``/agora.catalog.v1.CatalogService/GetProducts``) to the
            scopes a caller needs, all of them; a method absent here is refused.
        clock: Wall-clock seconds, to tell when a remembered token expires.
        verified: Principals of tokens verified already, by token, kept until their ``exp``:
            a caller sends the same token for minutes, and checking its signature on every
            call would cost about as much as the call itself.
    """

    verifier: TokenVerifier
    scopes: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    clock: Callable[[], float] = time.time
    verified: dict[str, Principal] = field(default_factory=dict, repr=False, compare=False)

    async def principal(self, token: str) -> Principal:
        """The principal ``token`` names, verified now or earlier and not expired since.

        Args:
            token: The compact JWT.

        Returns:
            The principal.

        Raises:
            Unauthorized: The token is refused.
            ServiceUnavailable: The signing keys cannot be fetched.
        """
        known = self.verified.get(token)
        if known is not None and self.clock() < float(known.claims["exp"]):
            return known
        principal = await self.verifier.verify(token)
        if len(self.verified) >= VERIFIED_TOKENS_KEPT:
            self.verified.clear()  # simpler than LRU; refilled by the next calls
        self.verified[token] = principal
        return principal


def method_scopes(
    service: str, scopes: Mapping[str, set[str] | frozenset[str]]
) -> dict[str, frozenset[str]]:
    """Expand a servicer's ``{"Method": {"scope"}}`` table to full method names.

    Args:
        service: The service's full name (``agora.catalog.v1.CatalogService``).
        scopes: Scopes needed per method name.

    Returns:
        The table :class:`GrpcAuth` takes.
    """
    return {f"/{service}/{method}": frozenset(needed) for method, needed in scopes.items()}


def _metadata(context: Context) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        if isinstance(value, str):
            found.setdefault(key.lower(), value)
    return found


def _request_id(metadata: Mapping[str, str]) -> str:
    offered = metadata.get(REQUEST_ID_METADATA, "")
    return offered if _REQUEST_ID_RE.match(offered) else str(uuid7())


async def _refuse(context: Context, method: str, code: grpc.StatusCode, reason: str) -> NoReturn:
    # The reason (never the token) is logged and told to the caller, as the REST API does.
    logger.warning("gRPC call %s refused: %s", method, reason)
    await context.abort(code, reason)


async def _authenticate(
    auth: GrpcAuth, method: str, metadata: Mapping[str, str], context: Context
) -> Principal:
    """The caller of ``method``, or an aborted call."""
    header = metadata.get(AUTHORIZATION_METADATA, "")
    if not header.lower().startswith(_BEARER_PREFIX):
        await _refuse(
            context, method, grpc.StatusCode.UNAUTHENTICATED, "A service token is required."
        )
    try:
        principal = await auth.principal(header[len(_BEARER_PREFIX) :].strip())
    except AgoraError as error:  # Unauthorized, or ServiceUnavailable without keys
        await _refuse(context, method, code_for_http_status(error.status), error.detail)
    needed = auth.scopes.get(method)
    if needed is None:
        await _refuse(
            context,
            method,
            grpc.StatusCode.PERMISSION_DENIED,
            "The method is not open to any caller.",
        )
    elif not principal.has_scopes(*needed):
        await _refuse(
            context,
            method,
            grpc.StatusCode.PERMISSION_DENIED,
            f"The caller was not granted a scope this method needs ({' '.join(sorted(needed))}).",
        )
    return principal


Behavior = Callable[[Any, Context], Any]


def _unary_response(auth: GrpcAuth, method: str, behavior: Behavior) -> Behavior:
    async def authenticated(request: Any, context: Context) -> Any:
        metadata = _metadata(context)
        id_token = correlation_id.set(_request_id(metadata))
        try:
            principal_token = _principal.set(await _authenticate(auth, method, metadata, context))
            try:
                return await behavior(request, context)
            finally:
                _principal.reset(principal_token)
        finally:
            correlation_id.reset(id_token)

    return authenticated


def _stream_response(auth: GrpcAuth, method: str, behavior: Behavior) -> Behavior:
    async def authenticated(request: Any, context: Context) -> AsyncIterator[Any]:
        metadata = _metadata(context)
        id_token = correlation_id.set(_request_id(metadata))
        try:
            principal_token = _principal.set(await _authenticate(auth, method, metadata, context))
            try:
                async for item in behavior(request, context):
                    yield item
            finally:
                _principal.reset(principal_token)
        finally:
            correlation_id.reset(id_token)

    return authenticated


def _wrap(handler: Any, auth: GrpcAuth, method: str) -> grpc.RpcMethodHandler[Any, Any]:
    codec = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            _unary_response(auth, method, handler.unary_unary), **codec
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            _stream_response(auth, method, handler.unary_stream), **codec
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            _unary_response(auth, method, handler.stream_unary), **codec
        )
    return grpc.stream_stream_rpc_method_handler(
        _stream_response(auth, method, handler.stream_stream), **codec
    )


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Requires a service token with the method's scopes on every call but health and reflection."""

    def __init__(self, auth: GrpcAuth) -> None:
        """Authenticate calls with ``auth``."""
        self.auth = auth

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        """Return the method's handler, wrapped to authenticate its caller first."""
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.lstrip("/").partition("/")[0] in OPEN_SERVICES:
            return handler
        return _wrap(handler, self.auth, method)
