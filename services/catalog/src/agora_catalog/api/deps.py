"""Dependencies that assemble catalog's services for one request, and catalog's typed app state.

With ``main`` and ``wiring``, the only modules that build repositories: the routes call services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.applications import Starlette

from agora_catalog.models import AuditEntry, IdempotencyRecord
from agora_catalog.repositories.categories import CategoryRepository
from agora_catalog.repositories.products import ProductRepository
from agora_catalog.repositories.search_terms import SearchTermRepository
from agora_catalog.services.cache import ProductCache
from agora_catalog.services.categories import CategoryService
from agora_catalog.services.images import ImageService
from agora_catalog.services.products import ProductService
from agora_catalog.services.reads import ProductReads
from agora_catalog.settings import CatalogSettings
from agora_chassis.audit import Actor, Auditor, AuditRepository
from agora_chassis.auth import CurrentPrincipal, Principal
from agora_chassis.client_address import client_ip
from agora_chassis.db import DbSession
from agora_chassis.grpc_server import GrpcServer
from agora_chassis.idempotency_api import IdempotencyKey
from agora_chassis.state import service_extras, service_settings, service_state


@dataclass(slots=True)
class CatalogState:
    """What catalog keeps beside the chassis state (attached by ``main.create_app``).

    Attributes:
        product_cache: The product cache (Redis, failing open, with a local layer).
        grpc_server: The internal gRPC server while it runs (``AGORA_GRPC_PORT`` set).
    """

    product_cache: ProductCache
    grpc_server: GrpcServer | None = None


def catalog_state(owner: Starlette | Request) -> CatalogState:
    """Catalog's own resources of the app (or of the app serving ``owner``)."""
    return service_extras(owner, CatalogState)


def catalog_settings(owner: Starlette | Request) -> CatalogSettings:
    """The app's settings, as catalog's settings class."""
    return service_settings(owner, CatalogSettings)


def _cache(request: Request) -> ProductCache:
    return catalog_state(request).product_cache


def _auditor(request: Request, session: DbSession, principal: Principal | None) -> Auditor:
    return Auditor(AuditRepository(session, AuditEntry), Actor.of(principal, client_ip(request)))


async def auditor(request: Request, session: DbSession, principal: CurrentPrincipal) -> Auditor:
    """Catalog's audit log for this request, recording what the caller does."""
    return _auditor(request, session, principal)


async def product_service(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> ProductService:
    """The product use cases for this request (admins'), audited as done by the caller."""
    return ProductService(
        ProductRepository(session),
        CategoryRepository(session),
        _cache(request),
        _auditor(request, session, principal),
    )


def product_reads(request: Request) -> ProductReads:
    """Shoppers' cached product reads (no database session unless the cache misses).

    The read endpoints call this themselves instead of declaring it with ``Depends``: on a cached
    read, FastAPI resolving one more dependency costs about a tenth of the request (ADR 0007).
    """
    return ProductReads(
        service_state(request).sessionmaker,
        _cache(request),
        ProductRepository,
        CategoryRepository,
        SearchTermRepository,
    )


async def category_service(request: Request, session: DbSession) -> CategoryService:
    """The category use cases for this request (an anonymous caller: reads only)."""
    return CategoryService(
        CategoryRepository(session), _cache(request), _auditor(request, session, None)
    )


async def category_admin(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> CategoryService:
    """The category use cases for an admin's request, audited as done by the caller."""
    return CategoryService(
        CategoryRepository(session), _cache(request), _auditor(request, session, principal)
    )


async def image_service(session: DbSession) -> ImageService:
    """The image use cases for this request."""
    return ImageService(ProductRepository(session), CategoryRepository(session))


# Optional on the existing admin creations: clients written before it keep working unchanged.
idempotency_key = IdempotencyKey(IdempotencyRecord)
"""Guards an admin creation with ``Idempotency-Key`` (put it after the route's auth; ADR 0021)."""

Products = Annotated[ProductService, Depends(product_service)]
Categories = Annotated[CategoryService, Depends(category_service)]
CategoryAdmin = Annotated[CategoryService, Depends(category_admin)]
Images = Annotated[ImageService, Depends(image_service)]
AuditLog = Annotated[Auditor, Depends(auditor)]
