"""A real basket gRPC server for tests of basket's callers: ``GetBasket`` answered from a dict.

It speaks basket's proto over a loopback port, so the caller's channel, service client and
breaker run for real. Each user's basket is a list of ``(product_id, quantity)`` the test sets.
"""

from __future__ import annotations

from typing import Any

import grpc

from agora_contracts.grpc.basket.v1 import basket_pb2, basket_pb2_grpc

LOOPBACK = "127.0.0.1"
Context = grpc.aio.ServicerContext[Any, Any]
GRACE_SECONDS = 0.1


class _Servicer(basket_pb2_grpc.BasketServiceServicer):
    def __init__(self, server: BasketServer) -> None:
        self._server = server

    async def GetBasket(  # noqa: N802 - the proto's name
        self, request: basket_pb2.GetBasketRequest, _context: Context
    ) -> basket_pb2.GetBasketResponse:
        self._server.reads.append(request.user_id)
        lines = [
            basket_pb2.BasketLine(product_id=product_id, quantity=quantity)
            for product_id, quantity in self._server.baskets.get(request.user_id, [])
        ]
        return basket_pb2.GetBasketResponse(basket=basket_pb2.Basket(lines=lines))

    async def UpdateItem(  # noqa: N802 - the proto's name
        self, _request: basket_pb2.UpdateItemRequest, context: Context
    ) -> basket_pb2.UpdateItemResponse:
        """Not used by basket's callers in tests."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this test server only reads baskets")
        raise AssertionError("abort raises")

    async def Clear(  # noqa: N802 - the proto's name
        self, _request: basket_pb2.ClearRequest, context: Context
    ) -> basket_pb2.ClearResponse:
        """Not used by basket's callers in tests."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this test server only reads baskets")
        raise AssertionError("abort raises")


class BasketServer:
    """A ``BasketService`` on ``127.0.0.1:<port>``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.baskets: dict[str, list[tuple[str, int]]] = {}
        self.reads: list[str] = []
        self._server: grpc.aio.Server | None = None

    @property
    def target(self) -> str:
        """``host:port`` for a caller's ``AGORA_BASKET_GRPC_TARGET``."""
        return f"{LOOPBACK}:{self.port}"

    async def start(self) -> None:
        """Listen on the port."""
        server = grpc.aio.server()
        basket_pb2_grpc.add_BasketServiceServicer_to_server(_Servicer(self), server)
        server.add_insecure_port(self.target)
        await server.start()
        self._server = server

    async def stop(self) -> None:
        """Stop listening; calls now fail with ``UNAVAILABLE``."""
        if self._server is not None:
            await self._server.stop(GRACE_SECONDS)
            self._server = None
