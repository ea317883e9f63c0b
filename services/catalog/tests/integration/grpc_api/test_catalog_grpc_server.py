"""The catalog's gRPC server around its servicer: deadlines, health checking, reflection."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import grpc
import pytest
from fastapi import FastAPI
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from sqlalchemy import text

from agora_catalog.grpc.server import SERVICE_NAME
from agora_chassis.state import service_state
from agora_contracts.grpc.catalog.v1 import catalog_pb2
from services.catalog.tests.integration.grpc_api.conftest import CALL_BUDGET_SECONDS, MakeProduct

if TYPE_CHECKING:
    from agora_contracts.grpc.catalog.v1.catalog_pb2_grpc import (
        CatalogServiceAsyncStub as Stub,  # only in the .pyi
    )

pytestmark = pytest.mark.integration

CLIENT_DEADLINE_SECONDS = 0.5
STOP_WAIT_SECONDS = 3.0
LOCK_WAITERS = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def lock_waiters(grpc_app: FastAPI) -> int:
    """How many statements of the catalog database wait for a lock right now."""
    async with service_state(grpc_app).engine.connect() as connection:
        return int((await connection.execute(LOCK_WAITERS)).scalar_one())


async def until_no_lock_waiters(grpc_app: FastAPI, seconds: float) -> int:
    """Poll until nothing waits for a lock or ``seconds`` pass; return the last count."""
    waiting = await lock_waiters(grpc_app)
    give_up = time.monotonic() + seconds
    while waiting and time.monotonic() < give_up:
        await asyncio.sleep(0.05)
        waiting = await lock_waiters(grpc_app)
    return waiting


async def test_expired_deadline_is_deadline_exceeded_and_the_query_stops(
    grpc_app: FastAPI, catalog: Stub, make_product: MakeProduct
) -> None:
    product = await make_product()
    request = catalog_pb2.GetProductsRequest(product_ids=[str(product.id)])
    async with service_state(grpc_app).engine.connect() as blocker, blocker.begin():
        # Every read of products now waits for this transaction: the call cannot finish in time.
        await blocker.execute(text("LOCK TABLE products IN ACCESS EXCLUSIVE MODE"))
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await catalog.GetProducts(request, timeout=CLIENT_DEADLINE_SECONDS)
        # Still holding the lock: the server must have cancelled its query, not left it waiting.
        still_waiting = await until_no_lock_waiters(grpc_app, STOP_WAIT_SECONDS)

    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert still_waiting == 0


async def test_call_without_deadline_is_cut_at_the_server_budget(
    grpc_app: FastAPI, catalog: Stub, make_product: MakeProduct
) -> None:
    product = await make_product()
    request = catalog_pb2.CheckAvailabilityRequest(
        lines=[catalog_pb2.AvailabilityLine(product_id=str(product.id), quantity=1)]
    )
    async with service_state(grpc_app).engine.connect() as blocker, blocker.begin():
        await blocker.execute(text("LOCK TABLE products IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await catalog.CheckAvailability(request)  # no deadline from the caller
        took = time.monotonic() - started
        still_waiting = await until_no_lock_waiters(grpc_app, STOP_WAIT_SECONDS)

    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert CALL_BUDGET_SECONDS * 0.9 <= took < CALL_BUDGET_SECONDS + STOP_WAIT_SECONDS
    assert still_waiting == 0


async def test_server_answers_after_a_cancelled_call(
    grpc_app: FastAPI, catalog: Stub, make_product: MakeProduct
) -> None:
    product = await make_product()
    request = catalog_pb2.GetProductsRequest(product_ids=[str(product.id)])
    async with service_state(grpc_app).engine.connect() as blocker, blocker.begin():
        await blocker.execute(text("LOCK TABLE products IN ACCESS EXCLUSIVE MODE"))
        with pytest.raises(grpc.aio.AioRpcError):
            await catalog.GetProducts(request, timeout=CLIENT_DEADLINE_SECONDS)

    response = await catalog.GetProducts(request, timeout=STOP_WAIT_SECONDS)

    assert [p.id for p in response.products] == [str(product.id)]


@pytest.mark.parametrize("service", ["", SERVICE_NAME])
async def test_health_check_reports_serving(channel: grpc.aio.Channel, service: str) -> None:
    health = health_pb2_grpc.HealthStub(channel)

    response = await health.Check(health_pb2.HealthCheckRequest(service=service))

    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_check_of_unknown_service_is_not_found(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await health.Check(health_pb2.HealthCheckRequest(service="agora.nothing.v1.None"))

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def reflect(
    channel: grpc.aio.Channel, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    """One request/response exchange with the reflection service."""
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    async for response in reflection.ServerReflectionInfo(iter([request])):
        return response
    raise AssertionError("reflection answered nothing")


async def test_reflection_lists_the_catalog_service(channel: grpc.aio.Channel) -> None:
    response = await reflect(channel, reflection_pb2.ServerReflectionRequest(list_services=""))

    names = {service.name for service in response.list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names


async def test_reflection_describes_the_catalog_proto(channel: grpc.aio.Channel) -> None:
    request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE_NAME)

    response = await reflect(channel, request)

    proto = descriptor_pb2.FileDescriptorProto.FromString(
        response.file_descriptor_response.file_descriptor_proto[0]
    )
    assert proto.name == "agora/catalog/v1/catalog.proto"
    assert [m.name for m in proto.service[0].method] == ["GetProducts", "CheckAvailability"]
