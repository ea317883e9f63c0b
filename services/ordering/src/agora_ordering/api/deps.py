"""Dependencies that hand out ordering's use cases for one request, and ordering's app state.

With ``main`` and ``wiring``, the only modules that build repositories: the routes call services.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

import grpc
from fastapi import Depends, Request
from starlette.applications import Starlette

from agora_chassis.audit import Actor, Auditor, AuditRepository
from agora_chassis.auth import CurrentPrincipal
from agora_chassis.client_address import client_ip
from agora_chassis.db import DbSession
from agora_chassis.errors import Unauthorized
from agora_chassis.idempotency_api import IdempotencyKey
from agora_chassis.state import service_extras, service_settings
from agora_ordering.models import AuditEntry, IdempotencyRecord
from agora_ordering.repositories.orders import OrderRepository
from agora_ordering.services.orders import OrderService
from agora_ordering.services.remote import BasketContents, CatalogPrices
from agora_ordering.services.scheduler import DeadlineScheduler
from agora_ordering.settings import OrderingSettings


@dataclass(slots=True)
class OrderingState:
    """What ordering keeps beside the chassis state (attached by ``main.create_app``).

    Attributes:
        catalog: Catalog's prices, once its channel is open.
        basket: Basket's contents, once its channel is open.
        channels: The open gRPC channels (closed at shutdown).
        scheduler: The deadline scheduler while it runs.
    """

    catalog: CatalogPrices | None = None
    basket: BasketContents | None = None
    channels: tuple[grpc.aio.Channel, ...] = ()
    scheduler: DeadlineScheduler | None = None


def ordering_state(owner: Starlette | Request) -> OrderingState:
    """Ordering's own resources of the app (or of the app serving ``owner``)."""
    return service_extras(owner, OrderingState)


def ordering_settings(owner: Starlette | Request) -> OrderingSettings:
    """The app's settings, as ordering's settings class."""
    return service_settings(owner, OrderingSettings)


async def order_service(request: Request, session: DbSession) -> OrderService:
    """The order use cases of this request."""
    state = ordering_state(request)
    if state.catalog is None or state.basket is None:  # pragma: no cover - set at start-up
        raise RuntimeError("ordering's gRPC clients are not open yet")
    return OrderService(
        OrderRepository(session),
        state.catalog,
        state.basket,
        ordering_settings(request).saga_timeouts,
    )


async def auditor(request: Request, session: DbSession, principal: CurrentPrincipal) -> Auditor:
    """Ordering's audit log for this request, recording what the caller does."""
    return Auditor(AuditRepository(session, AuditEntry), Actor.of(principal, client_ip(request)))


async def buyer_id(principal: CurrentPrincipal) -> uuid.UUID:
    """The signed-in customer's id (the token's subject)."""
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        raise Unauthorized("The token's subject is not a user id.") from None


# Required: a checkout retried after a lost answer must never place a second order.
idempotency_key = IdempotencyKey(IdempotencyRecord, required=True)
"""Guards ``POST /api/v1/orders`` with ``Idempotency-Key`` (after the route's auth; ADR 0021)."""

Orders = Annotated[OrderService, Depends(order_service)]
BuyerId = Annotated[uuid.UUID, Depends(buyer_id)]
