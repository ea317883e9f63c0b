"""What ordering asks other services at order time, over their internal gRPC.

Catalog's ``GetProducts`` prices every order (never the client, never the basket's copy) and
basket's ``GetBasket`` gives the lines of a ``from_basket`` order. Both go through the chassis
service client (deadline, retries on transient codes only, a breaker per target), so when either
cannot answer the request fails fast with 503 and ``Retry-After`` and no order is made.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from agora_chassis.service_client import ServiceClient
from agora_contracts.grpc.basket.v1 import basket_pb2, basket_pb2_grpc
from agora_contracts.grpc.catalog.v1 import catalog_pb2, catalog_pb2_grpc


@dataclass(frozen=True)
class CatalogProduct:
    """A product as catalog prices it now.

    Attributes:
        product_id: Its id.
        name: Its name.
        unit_price: Its price.
        currency: ISO 4217 code of the price.
        active: Whether it is for sale.
    """

    product_id: uuid.UUID
    name: str
    unit_price: Decimal
    currency: str
    active: bool


@dataclass(frozen=True)
class WantedLine:
    """A product and how many units the buyer wants (before pricing).

    Attributes:
        product_id: The product.
        quantity: Units.
    """

    product_id: uuid.UUID
    quantity: int


class CatalogPrices:
    """Catalog's products by id, one batch per order.

    Args:
        client: The service client of the ``catalog`` target.
        stub: A ``CatalogService`` stub on a ``service_channel``.
    """

    def __init__(
        self, client: ServiceClient, stub: catalog_pb2_grpc.CatalogServiceAsyncStub
    ) -> None:
        self.client = client
        self._stub = stub

    async def fetch(self, product_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, CatalogProduct]:
        """The products with these ids; ids catalog does not know are absent.

        Raises:
            TargetUnavailable: Catalog is down, too slow, or its breaker is open.
        """
        request = catalog_pb2.GetProductsRequest(product_ids=[str(pid) for pid in product_ids])
        reply = await self.client.call(self._stub.GetProducts, request, idempotent=True)
        products = (
            CatalogProduct(
                product_id=uuid.UUID(p.id),
                name=p.name,
                unit_price=Decimal(p.price),
                currency=p.currency,
                active=p.active,
            )
            for p in reply.products
        )
        return {product.product_id: product for product in products}


class BasketContents:
    """The lines of a buyer's basket.

    Args:
        client: The service client of the ``basket`` target.
        stub: A ``BasketService`` stub on a ``service_channel``.
    """

    def __init__(self, client: ServiceClient, stub: basket_pb2_grpc.BasketServiceAsyncStub) -> None:
        self.client = client
        self._stub = stub

    async def lines(self, buyer_id: uuid.UUID) -> list[WantedLine]:
        """What the buyer's basket holds (products and quantities; basket's prices are ignored).

        Raises:
            TargetUnavailable: Basket is down, too slow, or its breaker is open.
        """
        request = basket_pb2.GetBasketRequest(user_id=str(buyer_id))
        reply = await self.client.call(self._stub.GetBasket, request, idempotent=True)
        return [
            WantedLine(product_id=uuid.UUID(line.product_id), quantity=line.quantity)
            for line in reply.basket.lines
        ]
