"""Contract of ``agora.basket.v1``: the committed stubs are the .proto, and its wire shape holds.

As for catalog's: the table pins field numbers, types and cardinality, so a change that would
silently break a deployed client (ordering) fails here and must be made on purpose.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from agora_contracts.grpc.basket.v1 import basket_pb2, basket_pb2_grpc

ROOT = Path(__file__).resolve().parents[3]
PROTO = "agora/basket/v1/basket.proto"
Field = descriptor_pb2.FieldDescriptorProto
STRING, INT32, BOOL, MESSAGE = (
    Field.TYPE_STRING,
    Field.TYPE_INT32,
    Field.TYPE_BOOL,
    Field.TYPE_MESSAGE,
)
ONE, MANY = False, True

WIRE_CONTRACT = {
    "GetBasketRequest": {"user_id": (1, STRING, ONE)},
    "GetBasketResponse": {"basket": (1, MESSAGE, ONE)},
    "UpdateItemRequest": {
        "user_id": (1, STRING, ONE),
        "product_id": (2, STRING, ONE),
        "quantity": (3, INT32, ONE),
    },
    "UpdateItemResponse": {"basket": (1, MESSAGE, ONE)},
    "ClearRequest": {"user_id": (1, STRING, ONE)},
    "ClearResponse": {"basket": (1, MESSAGE, ONE)},
    "Basket": {
        "lines": (1, MESSAGE, MANY),
        "total_quantity": (2, INT32, ONE),
        "total": (3, STRING, ONE),
        "currency": (4, STRING, ONE),
        "stale": (5, BOOL, ONE),
    },
    "BasketLine": {
        "product_id": (1, STRING, ONE),
        "sku": (2, STRING, ONE),
        "name": (3, STRING, ONE),
        "quantity": (4, INT32, ONE),
        "unit_price": (5, STRING, ONE),
        "currency": (6, STRING, ONE),
        "line_total": (7, STRING, ONE),
        "price_changed": (8, BOOL, ONE),
        "previous_unit_price": (9, STRING, ONE),
        "short_stock": (10, BOOL, ONE),
        "available": (11, INT32, ONE),
        "unavailable": (12, BOOL, ONE),
        "stale": (13, BOOL, ONE),
    },
}
METHODS = {
    "GetBasket": ("GetBasketRequest", "GetBasketResponse"),
    "UpdateItem": ("UpdateItemRequest", "UpdateItemResponse"),
    "Clear": ("ClearRequest", "ClearResponse"),
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> descriptor_pb2.FileDescriptorProto:
    """The .proto as protoc compiles it now."""
    out = tmp_path_factory.mktemp("descriptors") / "basket.pb"
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
    basket_pb2.DESCRIPTOR.CopyToProto(committed)

    assert committed == compiled


@pytest.mark.parametrize("message", sorted(WIRE_CONTRACT))
def test_message_fields_keep_their_numbers_types_and_cardinality(message: str) -> None:
    descriptor = basket_pb2.DESCRIPTOR.message_types_by_name[message]

    fields = {f.name: (f.number, f.type, f.is_repeated) for f in descriptor.fields}

    assert fields == WIRE_CONTRACT[message]


def test_messages_are_exactly_the_contracted_ones() -> None:
    assert set(basket_pb2.DESCRIPTOR.message_types_by_name) == set(WIRE_CONTRACT)


def test_service_methods_are_unary_with_their_request_and_response() -> None:
    service = basket_pb2.DESCRIPTOR.services_by_name["BasketService"]

    methods = {
        method.name: (method.input_type.name, method.output_type.name) for method in service.methods
    }

    assert service.full_name == "agora.basket.v1.BasketService"
    assert methods == METHODS


def test_generated_module_lives_in_agora_contracts() -> None:
    assert basket_pb2.Basket.__module__ == "agora_contracts.grpc.basket.v1.basket_pb2"
    imported = basket_pb2_grpc.agora_dot_basket_dot_v1_dot_basket__pb2  # type: ignore[attr-defined]
    assert imported is basket_pb2


def test_available_is_absent_until_set() -> None:
    line = basket_pb2.BasketLine(product_id="p", unit_price="19.90")

    decoded = basket_pb2.BasketLine.FromString(line.SerializeToString())

    assert not decoded.HasField("available")
    assert decoded.unit_price == "19.90"
