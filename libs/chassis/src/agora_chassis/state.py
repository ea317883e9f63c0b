"""Typed application state: what the chassis and a service keep for the app's lifetime.

Starlette's ``app.state`` is untyped (every attribute is ``Any``), so the app factory stores one
:class:`ServiceState` there, under one name, and every module reads it through
:func:`service_state`. A service keeps its own resources (a cache, a gRPC server, a token issuer)
in a small dataclass of its own, attached with :func:`attach_extras` and read with
:func:`service_extras`, keyed by that dataclass's type. These accessors are the only code that
touches ``app.state``; a test under ``tests/architecture`` keeps it that way.

Reading the state is a few attribute and dict look-ups, cheap enough for the per-request path
(ADR 0007): nothing is built per request.

The types are imported for type checking only: the modules that use :func:`service_state`
(``auth``, ``db``, ``ratelimit``, ...) are the same modules whose types the state holds. The state
is built by :func:`agora_chassis.app.build_service_state`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from agora_chassis.auth import KeySource, RefusalHook, TokenVerifier
    from agora_chassis.client_address import TrustedProxies
    from agora_chassis.messaging.broker import Broker
    from agora_chassis.messaging.consumer import EventConsumer
    from agora_chassis.messaging.relay import Relay
    from agora_chassis.metrics import HttpMetrics
    from agora_chassis.outbox import OutboxMixin
    from agora_chassis.ratelimit import LocalRateLimiter, RateLimiter
    from agora_chassis.reader import Reader
    from agora_chassis.settings import ServiceSettings

STATE_ATTRIBUTE = "agora"
"""The one ``app.state`` attribute the chassis uses."""


class ServiceStateError(RuntimeError):
    """The app holds no :class:`ServiceState` (or not the service resource asked for)."""


@dataclass(slots=True)
class Messaging:
    """The broker side of a service.

    Attributes:
        broker: The (not yet connected) broker; ``None`` without ``AGORA_BROKER_URL``.
        outbox_model: The service's outbox table, if it publishes events.
        relay: The running outbox relay (set once the broker is connected).
        task: The background task that connects the broker, then starts the relay.
    """

    broker: Broker | None
    outbox_model: type[OutboxMixin] | None
    relay: Relay | None = None
    task: asyncio.Task[None] | None = None


@dataclass(slots=True)
class ServiceState:
    """Everything the chassis keeps for a service app built by ``create_service_app``.

    Mutable on purpose: the relay and the consumer arrive after the app is built, and tests swap a
    resource (a session factory bound to one connection, a broken limiter) for one test.

    Attributes:
        settings: The service's settings (its own subclass; see :func:`service_settings`).
        engine: The database engine.
        sessionmaker: The session factory the transaction dependency opens sessions with.
        reader: Runs the SELECTs of read-only endpoints (``DbReader``).
        keys: Where token verification keys come from.
        verifier: Verifies bearer access tokens.
        rate_limiter: Redis-backed limiter (one budget across replicas).
        local_rate_limiter: In-process limiter (one budget per replica).
        trusted_proxies: Proxies whose ``X-Forwarded-For`` is believed.
        messaging: Broker, outbox and relay.
        metrics: The app's HTTP metric set.
        consumer: The service's event consumer, if it consumes events.
        on_auth_refusal: Called with ``(reason, request)`` when a request is refused a token.
        extras: The service's own resources, keyed by their type (see :func:`attach_extras`).
    """

    settings: ServiceSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    reader: Reader
    keys: KeySource
    verifier: TokenVerifier
    rate_limiter: RateLimiter
    local_rate_limiter: LocalRateLimiter
    trusted_proxies: TrustedProxies
    messaging: Messaging
    metrics: HttpMetrics
    consumer: EventConsumer | None = None
    on_auth_refusal: RefusalHook | None = None
    extras: dict[type, object] = field(default_factory=dict)


def attach_service_state(app: Starlette, state: ServiceState) -> ServiceState:
    """Store ``state`` on ``app`` (``create_service_app`` does; tests of bare apps do too).

    Args:
        app: The application.
        state: Its state.

    Returns:
        ``state``.
    """
    setattr(app.state, STATE_ATTRIBUTE, state)
    return state


def service_state(owner: Starlette | HTTPConnection) -> ServiceState:
    """The typed state of the app, or of the app serving a request or websocket.

    Args:
        owner: The app, or a request (``Request`` and ``WebSocket`` are both connections).

    Returns:
        The app's :class:`ServiceState`.

    Raises:
        ServiceStateError: The app was not built by ``create_service_app`` (or
            :func:`attach_service_state`), so it holds no state.
    """
    app = owner.app if isinstance(owner, HTTPConnection) else owner
    state = getattr(app.state, STATE_ATTRIBUTE, None)
    if not isinstance(state, ServiceState):
        raise ServiceStateError(
            f"{type(app).__name__} holds no ServiceState: build it with "
            "agora_chassis.app.create_service_app (or attach one with attach_service_state)"
        )
    return state


def service_settings[S: ServiceSettings](owner: Starlette | HTTPConnection, kind: type[S]) -> S:
    """The app's settings as the service's own settings class.

    Args:
        owner: The app or a request.
        kind: The service's settings class (e.g. ``CatalogSettings``).

    Returns:
        The settings, typed as ``kind``.

    Raises:
        ServiceStateError: No state, or its settings are not a ``kind``.
    """
    settings = service_state(owner).settings
    if not isinstance(settings, kind):
        raise ServiceStateError(f"the app's settings are {type(settings).__name__}, not {kind}")
    return settings


def attach_extras[E](app: Starlette, extras: E) -> E:
    """Keep a service's own resources (one dataclass) beside the chassis state.

    Args:
        app: An app built by ``create_service_app``.
        extras: The service's dataclass instance; its type is the key it is read back with.

    Returns:
        ``extras``.
    """
    service_state(app).extras[type(extras)] = extras
    return extras


def service_extras[E](owner: Starlette | HTTPConnection, kind: type[E]) -> E:
    """The service resources attached as ``kind`` (see :func:`attach_extras`).

    Args:
        owner: The app or a request.
        kind: The service's dataclass.

    Returns:
        The attached instance.

    Raises:
        ServiceStateError: No state, or nothing attached as ``kind``.
    """
    extras = service_state(owner).extras.get(kind)
    if not isinstance(extras, kind):
        raise ServiceStateError(f"no {kind.__name__} attached to this app (attach_extras)")
    return extras
