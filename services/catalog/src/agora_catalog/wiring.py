"""Builds catalog's services for the gRPC servicer and the event consumer.

With ``api.deps`` (the REST requests') and ``main``, the only modules that build repositories:
``grpc/`` and ``events/`` call services and never see SQL (an import-linter contract checks it).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from agora_catalog.repositories.products import ProductRepository, ProductSnapshots
from agora_catalog.repositories.reservations import ReservationRepository
from agora_catalog.services.cache import ProductCache
from agora_catalog.services.lookup import ProductBatches, ProductLookup
from agora_catalog.services.reservations import ReservationService
from agora_chassis.reader import Reader


def product_lookup(session: AsyncSession) -> ProductLookup:
    """The product look-ups of one gRPC call, in ``session``'s transaction."""
    return ProductLookup(ProductRepository(session))


def product_batches(reader: Reader) -> ProductBatches:
    """Products by id for the gRPC servicer, on the chassis reader (no session)."""
    return ProductBatches(ProductSnapshots(reader))


def reservation_services(cache: ProductCache) -> Callable[[AsyncSession], ReservationService]:
    """A factory of the stock reservations of one message, invalidating ``cache`` on changes."""

    def reservations(session: AsyncSession) -> ReservationService:
        return ReservationService(ProductRepository(session), ReservationRepository(session), cache)

    return reservations
