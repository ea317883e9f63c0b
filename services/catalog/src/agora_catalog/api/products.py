"""``/api/v1/products``: browse, search and read products; admins create, change and delete them.

Reads answer with the cached JSON bytes, an ``ETag`` (hash of those bytes) and ``Cache-Control``;
``If-None-Match`` with the current ETag gets ``304 Not Modified``. Writes need ``If-Match`` (or
``version`` in the body) and answer ``412``/``409`` when the product changed meanwhile.
"""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from agora_catalog.api.deps import Products, catalog_settings, idempotency_key, product_reads
from agora_catalog.schemas.product import (
    ProductCreate,
    ProductRead,
    ProductUpdate,
    Sku,
    StockAdjustment,
    StockRead,
)
from agora_catalog.schemas.query import ProductQuery
from agora_catalog.services.products import fingerprint
from agora_catalog.services.reads import render
from agora_chassis.auth import require_roles, require_scopes
from agora_chassis.errors import ValidationFailed
from agora_chassis.idempotency_api import IdempotentRoute
from agora_chassis.openapi import not_modified, problem_responses
from agora_chassis.pagination import Page, Pagination

ADMIN_ROLE = "admin"
WRITE_SCOPE = "catalog:write"  # granted by identity to admins (asked for, or by default)
JSON = "application/json"
PAGE_PARAMETERS = ("page", "per_page")
ETAG_HEADER_MAX = 256
"""Longest ``If-Match`` accepted: a few ETags (ours are 34 characters), never a body's worth."""

# Every route reads the database (or its cache, then the database): 503 when it is down.
router = APIRouter(
    prefix="/api/v1/products",
    tags=["products"],
    responses=problem_responses(status.HTTP_503_SERVICE_UNAVAILABLE),
    route_class=IdempotentRoute,  # stores the answers of creations sent with an Idempotency-Key
)
admin_only = [Depends(require_roles(ADMIN_ROLE))]
# Writes need the scope as well as the role: an admin token narrowed at login cannot change data.
admin_writes = [*admin_only, Depends(require_scopes(WRITE_SCOPE))]
ADMIN_RESPONSES = problem_responses(
    status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN, status.HTTP_404_NOT_FOUND
)
IfMatch = Annotated[str | None, Header(max_length=ETAG_HEADER_MAX, description="The ETag you read")]


async def _reject_unknown_parameters(request: Request) -> None:
    allowed = [*ProductQuery.parameter_names(), *PAGE_PARAMETERS]
    unknown = sorted(set(request.query_params) - set(allowed))
    if unknown:
        raise ValidationFailed(
            f"unknown query parameter(s): {', '.join(unknown)}", extra={"allowed": allowed}
        )


def _cached_json(request: Request, body: bytes, max_age: int) -> Response:
    etag = fingerprint(body)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
    wanted = {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}
    if etag in wanted or "*" in wanted:  # RFC 9110: "*" matches any current representation
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content=body, media_type=JSON, headers=headers)


def _max_age(request: Request) -> int:
    return catalog_settings(request).http_max_age_seconds


@router.get(
    "",
    response_model=Page[ProductRead],
    responses={**not_modified(), **problem_responses(HTTPStatus.UNPROCESSABLE_ENTITY)},
    dependencies=[Depends(_reject_unknown_parameters)],
)
async def list_products(
    request: Request,
    page: Pagination,
    query: Annotated[ProductQuery, Query()],
) -> Response:
    """Active products: filters, full-text search ``q`` (typo tolerant), sort, stable pages."""
    body = await product_reads(request).search(query, page)
    return _cached_json(request, body, _max_age(request))


@router.get(
    "/by-sku/{sku}",
    response_model=ProductRead,
    responses={**not_modified(), **problem_responses(status.HTTP_404_NOT_FOUND)},
)
async def get_product_by_sku(request: Request, sku: Sku) -> Response:
    """One active product by SKU (``ETag``; ``If-None-Match`` gives 304)."""
    body = await product_reads(request).read_by_sku(sku)
    return _cached_json(request, body, _max_age(request))


@router.get(
    "/{product_id}",
    response_model=ProductRead,
    responses={**not_modified(), **problem_responses(status.HTTP_404_NOT_FOUND)},
)
async def get_product(request: Request, product_id: uuid.UUID) -> Response:
    """One active product (``ETag``; ``If-None-Match`` gives 304)."""
    body = await product_reads(request).read(product_id)
    return _cached_json(request, body, _max_age(request))


@router.post(
    "",
    response_model=ProductRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=[*admin_writes, Depends(idempotency_key)],
    responses={
        **problem_responses(status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN),
        **problem_responses(status.HTTP_409_CONFLICT, HTTPStatus.UNPROCESSABLE_ENTITY),
    },
)
async def create_product(data: ProductCreate, products: Products, response: Response) -> object:
    """Add a product and its starting stock (admin); a retry under its Idempotency-Key replays."""
    product = await products.create(data)
    response.headers["Location"] = f"{router.prefix}/{product.id}"
    response.headers["ETag"] = fingerprint(render(product))
    return product


@router.patch(
    "/{product_id}",
    response_model=ProductRead,
    dependencies=admin_writes,
    responses={
        **ADMIN_RESPONSES,
        **problem_responses(
            status.HTTP_409_CONFLICT,
            status.HTTP_412_PRECONDITION_FAILED,
            HTTPStatus.UNPROCESSABLE_ENTITY,
            status.HTTP_428_PRECONDITION_REQUIRED,
        ),
    },
)
async def update_product(
    product_id: uuid.UUID,
    changes: ProductUpdate,
    products: Products,
    response: Response,
    if_match: IfMatch = None,
) -> object:
    """Change a product, price included (admin); needs ``If-Match`` or ``version``."""
    product = await products.update(product_id, changes, if_match)
    response.headers["ETag"] = fingerprint(render(product))
    return product


@router.delete(
    "/{product_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=admin_writes,
    responses={
        **ADMIN_RESPONSES,
        **problem_responses(
            status.HTTP_409_CONFLICT,
            status.HTTP_412_PRECONDITION_FAILED,
            status.HTTP_428_PRECONDITION_REQUIRED,
        ),
    },
)
async def delete_product(
    product_id: uuid.UUID,
    products: Products,
    if_match: IfMatch = None,
) -> Response:
    """Delete a product and its stock (admin); needs ``If-Match``."""
    await products.delete(product_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{product_id}/stock",
    response_model=StockRead,
    dependencies=admin_only,
    responses=ADMIN_RESPONSES,
)
async def get_stock(product_id: uuid.UUID, products: Products) -> StockRead:
    """A product's stock: on hand, reserved, available (admin)."""
    return await products.stock(product_id)


@router.post(
    "/{product_id}/stock/adjustments",
    response_model=StockRead,
    dependencies=admin_writes,
    responses={**ADMIN_RESPONSES, **problem_responses(status.HTTP_409_CONFLICT)},
)
async def adjust_stock(
    product_id: uuid.UUID, adjustment: StockAdjustment, products: Products
) -> StockRead:
    """Add (delivery) or remove (shrinkage) units; never below what is reserved (admin)."""
    return await products.adjust_stock(product_id, adjustment)
