"""merge_lines: what an order asks of each product; ReservationState: what the table stores."""

from __future__ import annotations

import uuid

from agora_catalog.models.reservation import STATE_LENGTH, ReservationState
from agora_catalog.services.reservations import merge_lines
from agora_contracts.ordering import OrderLine

LOW = uuid.UUID("00000000-0000-7000-8000-000000000001")
HIGH = uuid.UUID("ffffffff-0000-7000-8000-000000000001")


def _line(product_id: uuid.UUID, quantity: int) -> OrderLine:
    return OrderLine(product_id=product_id, quantity=quantity)


def test_merge_lines_one_line_gives_its_quantity() -> None:
    assert merge_lines([_line(LOW, 3)]) == {LOW: 3}


def test_merge_lines_same_product_twice_gives_the_sum() -> None:
    assert merge_lines([_line(LOW, 2), _line(HIGH, 1), _line(LOW, 5)]) == {LOW: 7, HIGH: 1}


def test_merge_lines_orders_products_by_id_whatever_the_order_lists() -> None:
    # The id order is the lock order: every transaction must take the stock rows the same way.
    assert list(merge_lines([_line(HIGH, 1), _line(LOW, 1)])) == [LOW, HIGH]


def test_merge_lines_id_order_matches_postgresql_uuid_order() -> None:
    # PostgreSQL compares uuids byte by byte, Python by their integer: the same order.
    ids = [uuid.UUID(bytes=bytes([n, 255 - n]) + bytes(14)) for n in (200, 3, 77)]

    assert list(merge_lines([_line(i, 1) for i in ids])) == sorted(ids, key=lambda i: i.bytes)


def test_reservation_state_values_are_stored_lower_case_and_fit_the_column() -> None:
    assert [state.value for state in ReservationState] == [
        "reserved",
        "rejected",
        "released",
        "committed",
    ]
    assert max(len(state) for state in ReservationState) <= STATE_LENGTH
