"""``agora.catalog.v1.CatalogService`` over a real channel: batch reads and availability."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import grpc
import pytest
from fastapi import FastAPI

from agora_catalog.api.deps import catalog_state
from agora_contracts.grpc.catalog.v1 import catalog_pb2
from services.catalog.tests.integration.grpc_api.conftest import MakeProduct

if TYPE_CHECKING:
    from agora_contracts.grpc.catalog.v1.catalog_pb2_grpc import (
        CatalogServiceAsyncStub as Stub,  # only in the .pyi
    )

pytestmark = pytest.mark.integration


def line(product_id: object, quantity: int) -> catalog_pb2.AvailabilityLine:
    return catalog_pb2.AvailabilityLine(product_id=str(product_id), quantity=quantity)


async def test_get_products_found_and_missing_answers_both_in_request_order(
    catalog: Stub, make_product: MakeProduct
) -> None:
    mug = await make_product(price="12.50", on_hand=7, reserved=2, name="Mug")
    pan = await make_product(price="40.00", on_hand=1, name="Pan")
    ghost = uuid.uuid4()
    ids = [str(pan.id), str(ghost), str(mug.id), str(pan.id)]

    response = await catalog.GetProducts(catalog_pb2.GetProductsRequest(product_ids=ids))

    assert [p.id for p in response.products] == [str(pan.id), str(mug.id)]
    assert list(response.missing_ids) == [str(ghost)]
    first = response.products[1]
    assert (first.sku, first.name, first.price, first.currency) == (mug.sku, "Mug", "12.50", "EUR")
    assert first.available == 5
    assert first.active is True
    assert response.products[0].price == "40.00"


async def test_get_products_withdrawn_product_is_returned_inactive(
    catalog: Stub, make_product: MakeProduct
) -> None:
    withdrawn = await make_product(active=False)

    response = await catalog.GetProducts(
        catalog_pb2.GetProductsRequest(product_ids=[str(withdrawn.id)])
    )

    assert [(p.id, p.active) for p in response.products] == [(str(withdrawn.id), False)]


async def test_get_products_no_ids_answers_empty(catalog: Stub) -> None:
    response = await catalog.GetProducts(catalog_pb2.GetProductsRequest())

    assert list(response.products) == []
    assert list(response.missing_ids) == []


async def test_check_availability_every_line_in_stock_is_ok(
    catalog: Stub, make_product: MakeProduct
) -> None:
    mug = await make_product(on_hand=3)
    pan = await make_product(on_hand=10, reserved=4)
    request = catalog_pb2.CheckAvailabilityRequest(lines=[line(mug.id, 3), line(pan.id, 6)])

    response = await catalog.CheckAvailability(request)

    assert response.ok is True
    assert [(a.available, a.ok, a.status) for a in response.lines] == [
        (3, True, catalog_pb2.LINE_STATUS_OK),
        (6, True, catalog_pb2.LINE_STATUS_OK),
    ]


async def test_check_availability_short_missing_and_withdrawn_lines_say_why(
    catalog: Stub, make_product: MakeProduct
) -> None:
    mug = await make_product(on_hand=5, reserved=3)
    withdrawn = await make_product(active=False, on_hand=50)
    ghost = uuid.uuid4()
    request = catalog_pb2.CheckAvailabilityRequest(
        lines=[line(mug.id, 3), line(ghost, 1), line(withdrawn.id, 1)]
    )

    response = await catalog.CheckAvailability(request)

    assert response.ok is False
    assert [(a.product_id, a.quantity, a.available, a.ok, a.status) for a in response.lines] == [
        (str(mug.id), 3, 2, False, catalog_pb2.LINE_STATUS_INSUFFICIENT_STOCK),
        (str(ghost), 1, 0, False, catalog_pb2.LINE_STATUS_NOT_FOUND),
        (str(withdrawn.id), 1, 0, False, catalog_pb2.LINE_STATUS_INACTIVE),
    ]


async def test_check_availability_lines_of_one_product_are_checked_against_their_sum(
    catalog: Stub, make_product: MakeProduct
) -> None:
    mug = await make_product(on_hand=4)
    request = catalog_pb2.CheckAvailabilityRequest(lines=[line(mug.id, 2), line(mug.id, 3)])

    response = await catalog.CheckAvailability(request)

    assert response.ok is False
    assert [a.status for a in response.lines] == [catalog_pb2.LINE_STATUS_INSUFFICIENT_STOCK] * 2


@pytest.mark.parametrize(
    ("method", "request_message", "mentions"),
    [
        (
            "GetProducts",
            catalog_pb2.GetProductsRequest(product_ids=["not-a-uuid"]),
            "product_ids.0",
        ),
        (
            "GetProducts",
            catalog_pb2.GetProductsRequest(product_ids=[str(uuid.uuid4()) for _ in range(101)]),
            "product_ids",
        ),
        (
            "CheckAvailability",
            catalog_pb2.CheckAvailabilityRequest(lines=[line(uuid.uuid4(), 0)]),
            "lines.0.quantity",
        ),
        (
            "CheckAvailability",
            catalog_pb2.CheckAvailabilityRequest(lines=[line("42", 1)]),
            "lines.0.product_id",
        ),
    ],
    ids=["non-uuid-id", "too-many-ids", "zero-quantity", "non-uuid-line"],
)
async def test_bad_input_is_invalid_argument_naming_the_field(
    catalog: Stub, method: str, request_message: object, mentions: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await getattr(catalog, method)(request_message)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert mentions in (raised.value.details() or "")


async def test_app_without_grpc_port_serves_no_grpc(app: FastAPI) -> None:
    assert catalog_state(app).grpc_server is None
