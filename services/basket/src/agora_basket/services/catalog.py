"""Catalog's products, read through its gRPC ``GetProducts`` under the chassis service client.

One call per request, for every product the request needs (ADR 0017): a deadline, retries on
transient failures only, and the catalog breaker. When catalog cannot answer, the client raises
``TargetUnavailable``: a write lets it propagate (503 with ``Retry-After``), a read catches it and
serves the last known prices.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from agora_basket.schemas.lines import CatalogProduct
from agora_chassis.service_client import ServiceClient
from agora_contracts.grpc.catalog.v1 import catalog_pb2, catalog_pb2_grpc


class CatalogProducts:
    """Looks products up at catalog, a batch at a time.

    Args:
        client: The service client of the ``catalog`` target (its breaker and metrics).
        stub: A ``CatalogService`` stub on a ``service_channel`` (which carries the token).
    """

    def __init__(
        self, client: ServiceClient, stub: catalog_pb2_grpc.CatalogServiceAsyncStub
    ) -> None:
        self.client = client
        self._stub = stub

    async def fetch(self, product_ids: Iterable[str]) -> dict[str, CatalogProduct]:
        """The products with these ids; ids catalog does not know are absent.

        Args:
            product_ids: Product ids (UUID strings), at most 100.

        Returns:
            The products by id (withdrawn ones included, ``active`` false).

        Raises:
            TargetUnavailable: Catalog is down, too slow, or its breaker is open.
        """
        ids = list(dict.fromkeys(product_ids))
        if not ids:
            return {}
        request = catalog_pb2.GetProductsRequest(product_ids=ids)
        reply = await self.client.call(self._stub.GetProducts, request, idempotent=True)
        return {product.id: _product(product) for product in reply.products}


def _product(message: catalog_pb2.Product) -> CatalogProduct:
    return CatalogProduct(
        product_id=message.id,
        sku=message.sku,
        name=message.name,
        unit_price=Decimal(message.price),
        currency=message.currency,
        available=message.available,
        active=message.active,
    )
