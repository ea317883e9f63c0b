"""Contract of ``agora.catalog.v1``: the committed stubs are the .proto, and its wire shape holds.

Field numbers and types are the wire contract with every client already deployed: renumbering
or retyping a field breaks them silently. The table below pins them, so such a change fails here
and has to be made on purpose (a new field, or a ``v2`` package), not by accident.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from agora_contracts.grpc.catalog.v1 import catalog_pb2, catalog_pb2_grpc

ROOT = Path(__file__).resolve().parents[3]
PROTO = "agora/catalog/v1/catalog.proto"
Field = descriptor_pb2.FieldDescriptorProto
STRING, INT32, BOOL = Field.TYPE_STRING, Field.TYPE_INT32, Field.TYPE_BOOL
MESSAGE, ENUM = Field.TYPE_MESSAGE, Field.TYPE_ENUM
ONE, MANY = False, True  # is the field repeated

WIRE_CONTRACT = {
    "GetProductsRequest": {"product_ids": (1, STRING, MANY)},
    "GetProductsResponse": {"products": (1, MESSAGE, MANY), "missing_ids": (2, STRING, MANY)},
    "Product": {
        "id": (1, STRING, ONE),
        "sku": (2, STRING, ONE),
        "name": (3, STRING, ONE),
        "price": (4, STRING, ONE),
        "currency": (5, STRING, ONE),
        "available": (6, INT32, ONE),
        "active": (7, BOOL, ONE),
    },
    "CheckAvailabilityRequest": {"lines": (1, MESSAGE, MANY)},
    "AvailabilityLine": {"product_id": (1, STRING, ONE), "quantity": (2, INT32, ONE)},
    "CheckAvailabilityResponse": {"ok": (1, BOOL, ONE), "lines": (2, MESSAGE, MANY)},
    "LineAvailability": {
        "product_id": (1, STRING, ONE),
        "quantity": (2, INT32, ONE),
        "available": (3, INT32, ONE),
        "ok": (4, BOOL, ONE),
        "status": (5, ENUM, ONE),
    },
}
METHODS = {
    "GetProducts": ("GetProductsRequest", "GetProductsResponse"),
    "CheckAvailability": ("CheckAvailabilityRequest", "CheckAvailabilityResponse"),
}
LINE_STATUSES = {
    "LINE_STATUS_UNSPECIFIED": 0,
    "LINE_STATUS_OK": 1,
    "LINE_STATUS_INSUFFICIENT_STOCK": 2,
    "LINE_STATUS_NOT_FOUND": 3,
    "LINE_STATUS_INACTIVE": 4,
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> descriptor_pb2.FileDescriptorProto:
    """The .proto as protoc compiles it now."""
    out = tmp_path_factory.mktemp("descriptors") / "catalog.pb"
    argv = [sys.executable, "-m", "grpc_tools.protoc", "-I.", f"--descriptor_set_out={out}", PROTO]
    subprocess.run(argv, cwd=ROOT / "proto", check=True)
    compiled = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    for message in compiled.message_type:
        for field in message.field:
            field.ClearField("json_name")  # derived from the name; the runtime copy omits it
    return compiled


def test_committed_stubs_carry_the_descriptor_the_proto_compiles_to(
    compiled: descriptor_pb2.FileDescriptorProto,
) -> None:
    committed = descriptor_pb2.FileDescriptorProto()
    catalog_pb2.DESCRIPTOR.CopyToProto(committed)

    assert committed == compiled


@pytest.mark.parametrize("message", sorted(WIRE_CONTRACT))
def test_message_fields_keep_their_numbers_types_and_cardinality(message: str) -> None:
    descriptor = catalog_pb2.DESCRIPTOR.message_types_by_name[message]

    fields = {f.name: (f.number, f.type, f.is_repeated) for f in descriptor.fields}

    assert fields == WIRE_CONTRACT[message]


def test_messages_are_exactly_the_contracted_ones() -> None:
    assert set(catalog_pb2.DESCRIPTOR.message_types_by_name) == set(WIRE_CONTRACT)


def test_line_status_values_keep_their_numbers() -> None:
    values = catalog_pb2.DESCRIPTOR.enum_types_by_name["LineStatus"].values_by_name

    assert {name: value.number for name, value in values.items()} == LINE_STATUSES


def test_service_methods_are_unary_with_their_request_and_response() -> None:
    service = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"]

    methods = {
        method.name: (method.input_type.name, method.output_type.name) for method in service.methods
    }

    assert service.full_name == "agora.catalog.v1.CatalogService"
    assert methods == METHODS


def test_generated_module_lives_in_agora_contracts() -> None:
    assert catalog_pb2.Product.__module__ == "agora_contracts.grpc.catalog.v1.catalog_pb2"
    # The rewritten import finds the same module, not a second copy under another name.
    imported = catalog_pb2_grpc.agora_dot_catalog_dot_v1_dot_catalog__pb2  # type: ignore[attr-defined]
    assert imported is catalog_pb2


def test_price_round_trips_as_an_exact_decimal_string() -> None:
    product = catalog_pb2.Product(id="p", price="19.90", currency="EUR", available=3)

    decoded = catalog_pb2.Product.FromString(product.SerializeToString())

    assert (decoded.price, decoded.currency, decoded.available) == ("19.90", "EUR", 3)
