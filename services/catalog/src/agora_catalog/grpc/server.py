"""The internal ``agora.catalog.v1.CatalogService`` (``proto/agora/catalog/v1/catalog.proto``).

``GetProducts`` reads one SELECT on the chassis reader (basket asks on every request; ADR 0018);
``CheckAvailability`` gets its own session and read transaction. Both run ``services/`` code;
the servicer only translates: protobuf in, validated schemas to the service, protobuf out.
Invalid input (an id that is not a UUID, a quantity below 1, more than ``MAX_BATCH`` ids)
raises a ``ValidationError``; the chassis interceptor answers it, and any domain error, with the
status code of the chassis table, and stops the call when its deadline passes.

Callers are services with a service token from identity (client credentials); each method
declares the scopes it needs in :data:`SCOPES`. Reflection is served outside production only.
"""

from __future__ import annotations

from typing import Any

import grpc

from agora_catalog.schemas.lookup import (
    AvailabilityQuery,
    LineAvailability,
    LineStatus,
    ProductBatch,
)
from agora_catalog.settings import CatalogSettings
from agora_catalog.wiring import product_batches, product_lookup
from agora_chassis.auth import SERVICE_TOKEN_USE, KeySource, TokenVerifier
from agora_chassis.db import SessionFactory
from agora_chassis.grpc_auth import GrpcAuth, method_scopes
from agora_chassis.grpc_server import GrpcServer, start_grpc_server
from agora_chassis.reader import Reader, Row
from agora_contracts.grpc.catalog.v1 import catalog_pb2, catalog_pb2_grpc

SERVICE_NAME = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name
READ_SCOPE = "catalog:read"
SCOPES = {"GetProducts": {READ_SCOPE}, "CheckAvailability": {READ_SCOPE}}
"""What a caller's service token must carry, per method (reservations will need their own)."""
LINE_STATUS = {
    LineStatus.OK: catalog_pb2.LINE_STATUS_OK,
    LineStatus.INSUFFICIENT_STOCK: catalog_pb2.LINE_STATUS_INSUFFICIENT_STOCK,
    LineStatus.NOT_FOUND: catalog_pb2.LINE_STATUS_NOT_FOUND,
    LineStatus.INACTIVE: catalog_pb2.LINE_STATUS_INACTIVE,
}

Context = grpc.aio.ServicerContext[Any, Any]


def product_message(product: Row) -> catalog_pb2.Product:
    """A product row as the wire sees it: the price as a decimal string, never a float."""
    return catalog_pb2.Product(
        id=str(product["id"]),
        sku=product["sku"],
        name=product["name"],
        price=f"{product['price']:.2f}",
        currency=product["currency"],
        available=product["available"],
        active=product["active"],
    )


def line_message(line: LineAvailability) -> catalog_pb2.LineAvailability:
    """One line's answer on the wire."""
    return catalog_pb2.LineAvailability(
        product_id=str(line.product_id),
        quantity=line.quantity,
        available=line.available,
        ok=line.ok,
        status=LINE_STATUS[line.status],
    )


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    """``CatalogService`` over the catalog's database."""

    def __init__(self, sessionmaker: SessionFactory, reader: Reader) -> None:
        """Read with ``reader``, or in a session (and read transaction) from ``sessionmaker``."""
        self.sessionmaker = sessionmaker
        self.batches = product_batches(reader)  # no per-call state: built once

    async def GetProducts(  # noqa: N802 - the method name is the RPC's
        self,
        request: catalog_pb2.GetProductsRequest,
        context: Context,  # noqa: ARG002 - its deadline is enforced by the chassis
    ) -> catalog_pb2.GetProductsResponse:
        """The products with the requested ids, and the ids naming none."""
        batch = ProductBatch.model_validate({"product_ids": list(request.product_ids)})
        products, missing = await self.batches.get_products(batch)
        return catalog_pb2.GetProductsResponse(
            products=[product_message(product) for product in products],
            missing_ids=[str(product_id) for product_id in missing],
        )

    async def CheckAvailability(  # noqa: N802 - the method name is the RPC's
        self,
        request: catalog_pb2.CheckAvailabilityRequest,
        context: Context,  # noqa: ARG002 - its deadline is enforced by the chassis
    ) -> catalog_pb2.CheckAvailabilityResponse:
        """Whether each line, and so the whole order, can be served now."""
        lines = [
            {"product_id": line.product_id, "quantity": line.quantity} for line in request.lines
        ]
        query = AvailabilityQuery.model_validate({"lines": lines})
        async with self.sessionmaker.begin() as session:
            answer = await product_lookup(session).check_availability(query)
        return catalog_pb2.CheckAvailabilityResponse(
            ok=answer.ok, lines=[line_message(line) for line in answer.lines]
        )


async def serve(
    sessionmaker: SessionFactory, reader: Reader, keys: KeySource, settings: CatalogSettings
) -> GrpcServer:
    """Start the catalog's gRPC server (service tokens, health checking, reflection off production).

    Args:
        sessionmaker: Where each call's session comes from.
        reader: Runs the single-statement reads (``GetProducts``).
        keys: Identity's public keys (the JWKS), to verify callers' service tokens.
        settings: Address and port (``grpc_host``, ``grpc_port``; no port: any free one), the
            longest one call may run (``request_timeout_seconds``), issuer, audience, profile.

    Returns:
        The running server.
    """
    servicer = CatalogServicer(sessionmaker, reader)
    verifier = TokenVerifier(
        keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        token_use=SERVICE_TOKEN_USE,
    )

    def register(server: grpc.aio.Server) -> None:
        catalog_pb2_grpc.add_CatalogServiceServicer_to_server(servicer, server)

    return await start_grpc_server(
        register,
        [SERVICE_NAME],
        host=settings.grpc_host,
        port=settings.grpc_port or 0,
        auth=GrpcAuth(verifier, method_scopes(SERVICE_NAME, SCOPES)),
        limit=settings.request_timeout_seconds,
        reflection_enabled=settings.environment != "production",
    )
