"""The internal ``agora.basket.v1.BasketService`` (``proto/agora/basket/v1/basket.proto``).

For services (ordering at checkout), not shoppers: it reaches signed-in users' baskets by user id,
never guest baskets. The servicer only translates: protobuf in, validated schemas to the same
``BasketService`` the REST API uses, protobuf out. Invalid input raises a ``ValidationError``; the
chassis interceptor answers it and every domain error with the code of the chassis table
(``ProductNotFound`` is ``NOT_FOUND``, catalog down is ``UNAVAILABLE`` with ``retry-after``).

Callers present a service token from identity; reads need ``basket:read``, changes
``basket:write``. Reflection is served outside production only.
"""

from __future__ import annotations

from typing import Any

import grpc

from agora_basket.schemas.basket import BasketLineRead, BasketRead
from agora_basket.schemas.commands import ItemUpdate, UserBasket
from agora_basket.services.baskets import BasketService, user_owner
from agora_basket.settings import BasketSettings
from agora_chassis.auth import SERVICE_TOKEN_USE, KeySource, TokenVerifier
from agora_chassis.grpc_auth import GrpcAuth, method_scopes
from agora_chassis.grpc_server import GrpcServer, start_grpc_server
from agora_contracts.grpc.basket.v1 import basket_pb2, basket_pb2_grpc

SERVICE_NAME = basket_pb2.DESCRIPTOR.services_by_name["BasketService"].full_name
READ_SCOPE = "basket:read"
WRITE_SCOPE = "basket:write"
SCOPES = {"GetBasket": {READ_SCOPE}, "UpdateItem": {WRITE_SCOPE}, "Clear": {WRITE_SCOPE}}
"""What a caller's service token must carry, per method."""

Context = grpc.aio.ServicerContext[Any, Any]


def line_message(line: BasketLineRead) -> basket_pb2.BasketLine:
    """One line on the wire: amounts as decimal strings, never floats."""
    previous = line.previous_unit_price
    return basket_pb2.BasketLine(
        product_id=str(line.product_id),
        sku=line.sku,
        name=line.name,
        quantity=line.quantity,
        unit_price=str(line.unit_price),
        currency=line.currency,
        line_total=str(line.line_total),
        price_changed=line.price_changed,
        previous_unit_price="" if previous is None else str(previous),
        short_stock=line.short_stock,
        available=line.available,
        unavailable=line.unavailable,
        stale=line.stale,
    )


def basket_message(basket: BasketRead) -> basket_pb2.Basket:
    """The whole basket on the wire."""
    return basket_pb2.Basket(
        lines=[line_message(line) for line in basket.lines],
        total_quantity=basket.total_quantity,
        total=str(basket.total),
        currency=basket.currency or "",
        stale=basket.stale,
    )


class BasketServicer(basket_pb2_grpc.BasketServiceServicer):
    """``BasketService`` over the basket use cases."""

    def __init__(self, baskets: BasketService) -> None:
        """Serve ``baskets`` (the instance the REST API uses)."""
        self.baskets = baskets

    async def GetBasket(  # noqa: N802 - the method name is the RPC's
        self,
        request: basket_pb2.GetBasketRequest,
        context: Context,  # noqa: ARG002 - its deadline is enforced by the chassis
    ) -> basket_pb2.GetBasketResponse:
        """The user's basket, priced (last known prices, ``stale``, while catalog is out)."""
        query = UserBasket.model_validate({"user_id": request.user_id})
        basket = await self.baskets.view(user_owner(str(query.user_id)))
        return basket_pb2.GetBasketResponse(basket=basket_message(basket))

    async def UpdateItem(  # noqa: N802 - the method name is the RPC's
        self,
        request: basket_pb2.UpdateItemRequest,
        context: Context,  # noqa: ARG002 - its deadline is enforced by the chassis
    ) -> basket_pb2.UpdateItemResponse:
        """Set one line (0 removes it); the basket after the change."""
        update = ItemUpdate.model_validate(
            {
                "user_id": request.user_id,
                "product_id": request.product_id,
                "quantity": request.quantity,
            }
        )
        basket = await self.baskets.set_quantity(
            user_owner(str(update.user_id)), str(update.product_id), update.quantity
        )
        return basket_pb2.UpdateItemResponse(basket=basket_message(basket))

    async def Clear(  # noqa: N802 - the method name is the RPC's
        self,
        request: basket_pb2.ClearRequest,
        context: Context,  # noqa: ARG002 - its deadline is enforced by the chassis
    ) -> basket_pb2.ClearResponse:
        """Empty the user's basket."""
        query = UserBasket.model_validate({"user_id": request.user_id})
        basket = await self.baskets.clear(user_owner(str(query.user_id)))
        return basket_pb2.ClearResponse(basket=basket_message(basket))


async def serve(baskets: BasketService, keys: KeySource, settings: BasketSettings) -> GrpcServer:
    """Start the basket's gRPC server (service tokens, health checking, reflection off production).

    Args:
        baskets: The basket use cases.
        keys: Identity's public keys (the JWKS), to verify callers' service tokens.
        settings: Address and port (``grpc_host``, ``grpc_port``; no port: any free one), the
            longest one call may run (``request_timeout_seconds``), issuer, audience, profile.

    Returns:
        The running server.
    """
    servicer = BasketServicer(baskets)
    verifier = TokenVerifier(
        keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        token_use=SERVICE_TOKEN_USE,
    )

    def register(server: grpc.aio.Server) -> None:
        basket_pb2_grpc.add_BasketServiceServicer_to_server(servicer, server)

    return await start_grpc_server(
        register,
        [SERVICE_NAME],
        host=settings.grpc_host,
        port=settings.grpc_port or 0,
        auth=GrpcAuth(verifier, method_scopes(SERVICE_NAME, SCOPES)),
        limit=settings.request_timeout_seconds,
        reflection_enabled=settings.environment != "production",
    )
