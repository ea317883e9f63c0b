"""The calling side of internal gRPC: a cached service token and the metadata every call carries.

A service that calls another one gets a client id and secret (``AGORA_SERVICE_CLIENT_ID``,
``AGORA_SERVICE_CLIENT_SECRET``) registered in identity, and exchanges them at identity's token
endpoint (``AGORA_SERVICE_TOKEN_URL``, OAuth2 ``grant_type=client_credentials``) for a short-lived
service token. :class:`ServiceTokenSource` keeps that token and fetches a new one shortly before
it expires, so calls never wait for identity except the first after start-up or expiry.

:func:`service_channel` opens a channel whose every call carries::

    authorization: Bearer <service token>
    x-request-id: <the current correlation id>      (when there is one)
    traceparent: <the current span>                 (when tracing is on)

Wiring, in a caller's app factory::

    tokens = ServiceTokenSource.from_settings(settings)
    channel = service_channel(settings.catalog_grpc_target, tokens)
    catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
import httpx
from opentelemetry import propagate

from agora_chassis.errors import ServiceUnavailable
from agora_chassis.grpc_auth import AUTHORIZATION_METADATA, REQUEST_ID_METADATA
from agora_chassis.logging import correlation_id
from agora_chassis.settings import ServiceSettings

logger = logging.getLogger(__name__)

CLIENT_CREDENTIALS_GRANT = "client_credentials"
TOKEN_FETCH_TIMEOUT_SECONDS = 5.0
REFRESH_MARGIN_SECONDS = 60.0
"""Fetch a new token this long before the current one expires (half its life if shorter)."""

Clock = Callable[[], float]


class TokenProvider(Protocol):
    """Anything that hands out a bearer token (:class:`ServiceTokenSource`)."""

    async def token(self) -> str:
        """A token valid for at least the next call."""
        ...


@dataclass(frozen=True)
class ClientCredentials:
    """What a service presents to identity.

    Attributes:
        token_url: Identity's client-credentials endpoint.
        client_id: The registered client.
        client_secret: Its secret.
        scopes: Scopes to ask for (empty: everything the client is registered for).
    """

    token_url: str
    client_id: str
    client_secret: str
    scopes: Sequence[str] = ()


class ServiceTokenSource:
    """A service token from identity, fetched on first use and again shortly before expiry.

    Concurrent callers share one fetch. A failed fetch raises :class:`ServiceUnavailable`; the
    next call tries again.
    """

    def __init__(
        self,
        credentials: ClientCredentials,
        *,
        http_client: httpx.AsyncClient | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        """Prepare the source; nothing is fetched until :meth:`token`.

        Args:
            credentials: The client's id, secret and token URL.
            http_client: Client to fetch with; one is created (and owned) when ``None``.
            clock: Monotonic seconds (a fake one in tests).
        """
        self.credentials = credentials
        self._client = http_client or httpx.AsyncClient(timeout=TOKEN_FETCH_TIMEOUT_SECONDS)
        self._owns_client = http_client is None
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> ServiceTokenSource:
        """A source for the client the service's settings name.

        Args:
            settings: Settings with ``service_client_id``, ``service_client_secret`` and
                ``service_token_url``.

        Returns:
            The source.

        Raises:
            ValueError: The client id or secret is not set.
        """
        if not settings.service_client_id or settings.service_client_secret is None:
            raise ValueError("AGORA_SERVICE_CLIENT_ID and AGORA_SERVICE_CLIENT_SECRET are needed")
        return cls(
            ClientCredentials(
                token_url=settings.service_token_url,
                client_id=settings.service_client_id,
                client_secret=settings.service_client_secret.get_secret_value(),
            )
        )

    async def token(self) -> str:
        """A valid service token, from the cache unless it is about to expire.

        Returns:
            The compact JWT.

        Raises:
            ServiceUnavailable: Identity could not be reached or refused the credentials.
        """
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        async with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                await self._fetch()
            assert self._token is not None  # noqa: S101  # nosec B101 - set by _fetch
            return self._token

    async def aclose(self) -> None:
        """Close the HTTP client if this source created it."""
        if self._owns_client:
            await self._client.aclose()

    async def _fetch(self) -> None:
        form = {"grant_type": CLIENT_CREDENTIALS_GRANT}
        if self.credentials.scopes:
            form["scope"] = " ".join(self.credentials.scopes)
        started = self._clock()
        auth = httpx.BasicAuth(self.credentials.client_id, self.credentials.client_secret)
        try:
            response = await self._client.post(self.credentials.token_url, data=form, auth=auth)
            response.raise_for_status()
            body = response.json()
            token, lifetime = str(body["access_token"]), float(body["expires_in"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            logger.warning(
                "service token for %s not obtained from %s (%s)",
                self.credentials.client_id,
                self.credentials.token_url,
                type(error).__name__,
            )
            raise ServiceUnavailable("A service token cannot be obtained right now.") from error
        self._token = token
        self._refresh_at = started + lifetime - min(REFRESH_MARGIN_SECONDS, lifetime / 2)


async def outgoing_metadata(tokens: TokenProvider) -> list[tuple[str, str]]:
    """The metadata an internal call carries: the token, correlation id and trace context.

    Args:
        tokens: Where the service token comes from.

    Returns:
        ``(key, value)`` pairs, keys in lower case.
    """
    metadata = [(AUTHORIZATION_METADATA, f"Bearer {await tokens.token()}")]
    if (request_id := correlation_id.get()) is not None:
        metadata.append((REQUEST_ID_METADATA, request_id))
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    metadata.extend((key.lower(), value) for key, value in carrier.items())
    return metadata


async def _with_metadata(
    tokens: TokenProvider, details: grpc.aio.ClientCallDetails
) -> grpc.aio.ClientCallDetails:
    ours = await outgoing_metadata(tokens)
    names = {key for key, _ in ours}
    kept = [(key, value) for key, value in (details.metadata or ()) if key not in names]
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout,
        metadata=grpc.aio.Metadata(*kept, *ours),
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class UnaryTokenInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds :func:`outgoing_metadata` to every unary call."""

    def __init__(self, tokens: TokenProvider) -> None:
        """Take tokens from ``tokens``."""
        self.tokens = tokens

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        """Send the call with the token, correlation id and trace context."""
        return await continuation(await _with_metadata(self.tokens, client_call_details), request)


class StreamTokenInterceptor(grpc.aio.UnaryStreamClientInterceptor):
    """Adds :func:`outgoing_metadata` to every server-streaming call.

    A separate class: a ``grpc.aio`` channel files each interceptor under one kind only.
    """

    def __init__(self, tokens: TokenProvider) -> None:
        """Take tokens from ``tokens``."""
        self.tokens = tokens

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        """Send the call with the token, correlation id and trace context."""
        return await continuation(await _with_metadata(self.tokens, client_call_details), request)


def service_channel(target: str, tokens: TokenProvider, **options: Any) -> grpc.aio.Channel:
    """A plaintext channel to an internal gRPC server whose calls carry a service token.

    Args:
        target: ``host:port`` of the server.
        tokens: Where the service token comes from.
        **options: Passed to ``grpc.aio.insecure_channel``.

    Returns:
        The channel (use it as an async context manager, or close it).
    """
    return grpc.aio.insecure_channel(
        target,
        interceptors=[UnaryTokenInterceptor(tokens), StreamTokenInterceptor(tokens)],
        **options,
    )
