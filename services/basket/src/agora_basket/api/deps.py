"""Dependencies that name the basket's owner and hand out the basket use cases.

With ``main``, the only modules that build repositories: the routes call services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import grpc
from fastapi import Cookie, Depends, Header, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis
from starlette.applications import Starlette

from agora_basket.models import AuditEntry
from agora_basket.repositories.baskets import BasketRepository
from agora_basket.services.baskets import BasketLimits, BasketService, guest_owner, user_owner
from agora_basket.services.catalog import CatalogProducts
from agora_basket.services.events import BasketEvents
from agora_basket.services.guest_ids import GuestIds
from agora_basket.settings import BasketSettings
from agora_chassis.audit import Actor, Auditor, AuditRepository
from agora_chassis.auth import CurrentPrincipal, get_principal
from agora_chassis.client_address import client_ip
from agora_chassis.db import DbSession
from agora_chassis.grpc_server import GrpcServer
from agora_chassis.state import ServiceStateError, service_extras, service_settings

GUEST_HEADER = "X-Basket-Id"
GUEST_COOKIE = "basket_id"

_bearer = HTTPBearer(auto_error=False, description="A signed-in shopper's access token.")


@dataclass(slots=True)
class BasketState:
    """What basket keeps beside the chassis state (attached by ``main.create_app``).

    Attributes:
        redis: The client of the Redis holding the baskets.
        guest_ids: Issues and verifies guest basket ids.
        channel: The gRPC channel to catalog, open while the app runs.
        baskets: The basket use cases, built at start-up with the channel.
        grpc_server: The internal gRPC server while it runs (``AGORA_GRPC_PORT`` set).
    """

    redis: Redis
    guest_ids: GuestIds
    channel: grpc.aio.Channel | None = None
    baskets: BasketService | None = None
    grpc_server: GrpcServer | None = None


def basket_state(owner: Starlette | Request) -> BasketState:
    """Basket's own resources of the app (or of the app serving ``owner``)."""
    return service_extras(owner, BasketState)


def basket_settings(owner: Starlette | Request) -> BasketSettings:
    """The app's settings, as basket's settings class."""
    return service_settings(owner, BasketSettings)


def _repository(settings: BasketSettings, redis: Redis) -> BasketRepository:
    return BasketRepository(
        redis, prefix=settings.basket_key_prefix, ttl_seconds=settings.basket_ttl_seconds
    )


def build_basket_service(
    settings: BasketSettings, redis: Redis, catalog: CatalogProducts
) -> BasketService:
    """The basket use cases over ``redis`` and ``catalog`` (built once, at start-up)."""
    limits = BasketLimits(max_quantity=settings.max_quantity, max_lines=settings.max_lines)
    return BasketService(_repository(settings, redis), catalog, limits)


def build_basket_events(settings: BasketSettings, redis: Redis) -> BasketEvents:
    """What the event consumer's handlers call (built once, with the app)."""
    return BasketEvents(_repository(settings, redis))


async def auditor(request: Request, session: DbSession, principal: CurrentPrincipal) -> Auditor:
    """Basket's audit log for this request, recording what the caller does."""
    return Auditor(AuditRepository(session, AuditEntry), Actor.of(principal, client_ip(request)))


async def basket_service(request: Request) -> BasketService:
    """The basket use cases (one instance for the app's life).

    ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in a worker
    thread, a hop that cost every basket read 270-560 µs of CPU
    (``tests/architecture/test_async_dependencies.py`` keeps routes free of them).
    """
    baskets = basket_state(request).baskets
    if baskets is None:
        raise ServiceStateError("the basket service starts with the app's lifespan")
    return baskets


def presented_guest_id(request: Request) -> str | None:
    """The guest basket id the client sent (header first, then cookie), unverified."""
    return request.headers.get(GUEST_HEADER) or request.cookies.get(GUEST_COOKIE)


GuestHeader = Annotated[
    str | None,
    Header(
        alias=GUEST_HEADER,
        description="A guest's basket id, as issued in the X-Basket-Id response header.",
    ),
]
GuestCookie = Annotated[
    str | None,
    Cookie(alias=GUEST_COOKIE, description="The guest's basket id, as the cookie carries it."),
]


def issue_guest_id(request: Request, response: Response) -> str:
    """A new signed guest id, sent back as the ``X-Basket-Id`` header and ``basket_id`` cookie."""
    settings = basket_settings(request)
    signed = basket_state(request).guest_ids.issue()
    response.headers[GUEST_HEADER] = signed
    response.set_cookie(
        GUEST_COOKIE,
        signed,
        max_age=settings.basket_ttl_seconds,
        httponly=True,
        secure=settings.guest_cookie_secure,
        samesite="lax",
    )
    return signed


async def basket_owner(
    request: Request,
    response: Response,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: GuestHeader = None,
    cookie: GuestCookie = None,
) -> str:
    """Whose basket a request is about: the signed-in user's, or the guest's.

    A bearer token must verify (else 401). Without one, the guest id the client presents must
    verify (else 401); a client that presents none gets a new one with the answer.

    Returns:
        The owner (``user:<id>`` or ``guest:<id>``).
    """
    if credentials is not None:
        principal = await get_principal(request, credentials)
        return user_owner(principal.subject)
    signed = header or cookie or issue_guest_id(request, response)
    return guest_owner(basket_state(request).guest_ids.verify(signed))


def verified_guest(request: Request) -> str | None:
    """The owner of the guest basket the client presents, if any (verified: else 401)."""
    signed = presented_guest_id(request)
    if signed is None:
        return None
    return guest_owner(basket_state(request).guest_ids.verify(signed))


Baskets = Annotated[BasketService, Depends(basket_service)]
Owner = Annotated[str, Depends(basket_owner)]
