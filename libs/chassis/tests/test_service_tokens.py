"""The service-token cache of a calling service: one fetch, refresh before expiry, clear failure.

Identity's token endpoint is played by an ``httpx.MockTransport`` here, with a fake clock; the
real grant against identity is tested in identity's integration tests.
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry import trace
from pydantic import SecretStr

from agora_chassis.errors import ServiceUnavailable
from agora_chassis.logging import correlation_id
from agora_chassis.service_tokens import (
    REFRESH_MARGIN_SECONDS,
    ClientCredentials,
    ServiceTokenSource,
    outgoing_metadata,
)
from agora_chassis.settings import ServiceSettings
from agora_testing.grpc_tokens import FixedToken

TOKEN_URL = "http://identity/api/v1/auth/service-token"
LIFETIME_SECONDS = 300


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TokenEndpoint:
    """Answers every request with a new token, or with ``status`` when set."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, json={"detail": "no"})
        body = {"access_token": f"token-{len(self.requests)}", "expires_in": LIFETIME_SECONDS}
        return httpx.Response(200, json=body)


@pytest.fixture
def endpoint() -> TokenEndpoint:
    return TokenEndpoint()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def source(endpoint: TokenEndpoint, clock: FakeClock) -> AsyncIterator[ServiceTokenSource]:
    credentials = ClientCredentials(TOKEN_URL, "basket", "s" * 40, scopes=("catalog:read",))
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as client:
        yield ServiceTokenSource(credentials, http_client=client, clock=clock)


async def test_token_is_fetched_once_and_reused(
    source: ServiceTokenSource, endpoint: TokenEndpoint
) -> None:
    first, second = await source.token(), await source.token()

    assert first == second == "token-1"
    assert len(endpoint.requests) == 1


async def test_token_request_is_a_client_credentials_grant_with_basic_auth(
    source: ServiceTokenSource, endpoint: TokenEndpoint
) -> None:
    await source.token()

    request = endpoint.requests[0]
    form = urllib.parse.parse_qs(request.content.decode())
    expected = base64.b64encode(b"basket:" + b"s" * 40).decode()
    assert form == {"grant_type": ["client_credentials"], "scope": ["catalog:read"]}
    assert request.headers["Authorization"] == f"Basic {expected}"


async def test_token_is_refreshed_before_it_expires(
    source: ServiceTokenSource, clock: FakeClock
) -> None:
    await source.token()
    clock.now += LIFETIME_SECONDS - REFRESH_MARGIN_SECONDS - 1
    still = await source.token()
    clock.now += 2  # now within the margin: the token would expire soon

    assert (still, await source.token()) == ("token-1", "token-2")


async def test_refused_credentials_are_service_unavailable(
    source: ServiceTokenSource, endpoint: TokenEndpoint
) -> None:
    endpoint.status = 401

    with pytest.raises(ServiceUnavailable):
        await source.token()


def test_source_from_settings_without_client_is_refused() -> None:
    with pytest.raises(ValueError, match="AGORA_SERVICE_CLIENT_ID"):
        ServiceTokenSource.from_settings(ServiceSettings())


async def test_source_from_settings_uses_the_configured_client() -> None:
    settings = ServiceSettings(
        service_client_id="basket",
        service_client_secret=SecretStr("x" * 40),
        service_token_url=TOKEN_URL,
    )
    source = ServiceTokenSource.from_settings(settings)
    await source.aclose()

    assert (source.credentials.client_id, source.credentials.token_url) == ("basket", TOKEN_URL)


async def test_outgoing_metadata_carries_token_and_correlation_id() -> None:
    marker = correlation_id.set("req-7")
    try:
        metadata = dict(await outgoing_metadata(FixedToken("abc")))
    finally:
        correlation_id.reset(marker)

    assert metadata["authorization"] == "Bearer abc"
    assert metadata["x-request-id"] == "req-7"


async def test_outgoing_metadata_carries_the_current_trace_context() -> None:
    span = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
            span_id=0x00F067AA0BA902B7,
            is_remote=False,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
        )
    )

    with trace.use_span(span):
        metadata = dict(await outgoing_metadata(FixedToken("abc")))

    assert metadata["traceparent"] == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
