"""A real catalog gRPC server for tests of catalog's callers: ``GetProducts`` answered from a dict.

It listens on a loopback port and speaks catalog's proto over the network, as catalog does, so
basket's channel, service client, deadlines and breaker run for real. Its products live in a
dict the tests change (a price, the stock, withdrawing a product); it counts its calls so that a
test can check one batch per request. Stopping it and starting it again on the same port is how
the breaker tests take catalog down and bring it back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import grpc

from agora_contracts.grpc.catalog.v1 import catalog_pb2, catalog_pb2_grpc

LOOPBACK = "127.0.0.1"
Context = grpc.aio.ServicerContext[Any, Any]
GRACE_SECONDS = 0.1


@dataclass
class FakeProduct:
    """A product catalog would answer."""

    name: str
    price: str
    available: int = 50
    active: bool = True
    currency: str = "EUR"
    sku: str = field(default_factory=lambda: f"SKU-{uuid.uuid4().hex[:8]}")


class _Servicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, server: CatalogServer) -> None:
        self._server = server

    async def GetProducts(  # noqa: N802 - the proto's name
        self, request: catalog_pb2.GetProductsRequest, _context: Context
    ) -> catalog_pb2.GetProductsResponse:
        self._server.batches.append(list(request.product_ids))
        reply = catalog_pb2.GetProductsResponse()
        for product_id in dict.fromkeys(request.product_ids):
            product = self._server.products.get(product_id)
            if product is None:
                reply.missing_ids.append(product_id)
                continue
            reply.products.append(
                catalog_pb2.Product(
                    id=product_id,
                    sku=product.sku,
                    name=product.name,
                    price=product.price,
                    currency=product.currency,
                    available=product.available,
                    active=product.active,
                )
            )
        return reply

    async def CheckAvailability(  # noqa: N802 - the proto's name
        self, _request: catalog_pb2.CheckAvailabilityRequest, context: Context
    ) -> catalog_pb2.CheckAvailabilityResponse:
        """Not used by catalog's callers (basket, ordering)."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "no caller checks availability")
        raise AssertionError("abort raises")


class CatalogServer:
    """A ``CatalogService`` on ``127.0.0.1:<port>`` that can be stopped and started again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.products: dict[str, FakeProduct] = {}
        self.batches: list[list[str]] = []
        self._server: grpc.aio.Server | None = None

    @property
    def target(self) -> str:
        """``host:port`` for basket's ``AGORA_CATALOG_GRPC_TARGET``."""
        return f"{LOOPBACK}:{self.port}"

    def add(self, name: str, price: str, **fields: object) -> str:
        """Store a product; returns its new id."""
        product_id = str(uuid.uuid4())
        self.products[product_id] = FakeProduct(name, price, **fields)  # type: ignore[arg-type]
        return product_id

    async def start(self) -> None:
        """Listen (again) on the port."""
        server = grpc.aio.server()
        catalog_pb2_grpc.add_CatalogServiceServicer_to_server(_Servicer(self), server)
        server.add_insecure_port(self.target)
        await server.start()
        self._server = server

    async def stop(self) -> None:
        """Stop listening; calls now fail with ``UNAVAILABLE``."""
        if self._server is not None:
            await self._server.stop(GRACE_SECONDS)
            self._server = None
