"""Contract tests: ordering's events, their examples and their constraints."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from agora_contracts.envelope import CloudEvent, EventPayload
from agora_contracts.ordering import (
    CancellationReason,
    OrderAwaitingPaymentV1,
    OrderCancelledV1,
    OrderPaidV1,
    OrderPlacedV1,
    OrderRefundRequestedV1,
    RefundReason,
)

ORDERING_EVENTS: list[type[EventPayload]] = [
    OrderPlacedV1,
    OrderAwaitingPaymentV1,
    OrderPaidV1,
    OrderCancelledV1,
    OrderRefundRequestedV1,
]


def _example(payload_class: type[EventPayload]) -> dict[str, Any]:
    examples: list[dict[str, Any]] = payload_class.model_json_schema()["examples"]
    return examples[0]


@pytest.mark.parametrize("payload_class", ORDERING_EVENTS)
def test_ordering_event_schema_examples_validate(payload_class: type[EventPayload]) -> None:
    examples = payload_class.model_json_schema()["examples"]
    assert examples
    for example in examples:
        assert payload_class.model_validate(example).model_dump(mode="json", exclude_none=True) == (
            example
        )


@pytest.mark.parametrize("payload_class", ORDERING_EVENTS)
def test_ordering_event_type_is_in_the_order_family(payload_class: type[EventPayload]) -> None:
    assert payload_class.event_type.startswith("order.")
    assert payload_class.schema_uri() == f"urn:agora:events:{payload_class.event_type}:v1"


@pytest.mark.parametrize("payload_class", ORDERING_EVENTS)
def test_ordering_event_unknown_field_is_refused(payload_class: type[EventPayload]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        payload_class.model_validate(_example(payload_class) | {"card_number": "4242"})


def test_order_awaiting_payment_keeps_the_exact_amount_through_json() -> None:
    payload = OrderAwaitingPaymentV1.model_validate(_example(OrderAwaitingPaymentV1))
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/agora/ordering",
        type=payload.event_type,
        time=dt.datetime.now(dt.UTC),
        subject=str(payload.order_id),
        dataschema=payload.schema_uri(),
        data=payload.model_dump(mode="json"),
    )
    again = OrderAwaitingPaymentV1.model_validate(
        CloudEvent.model_validate_json(event.model_dump_json()).data
    )
    assert again == payload
    assert again.amount == Decimal("49.98")
    assert event.data["amount"] == "49.98"


@pytest.mark.parametrize("amount", ["0", "-1.00", "10.001", "1234567890123"])
def test_order_awaiting_payment_amount_out_of_shape_is_refused(amount: str) -> None:
    with pytest.raises(ValidationError, match="amount"):
        OrderAwaitingPaymentV1.model_validate(_example(OrderAwaitingPaymentV1) | {"amount": amount})


@pytest.mark.parametrize("currency", ["EU", "EURO", ""])
def test_order_awaiting_payment_currency_not_three_letters_is_refused(currency: str) -> None:
    example = _example(OrderAwaitingPaymentV1) | {"currency": currency}
    with pytest.raises(ValidationError, match="currency"):
        OrderAwaitingPaymentV1.model_validate(example)


def test_order_awaiting_payment_empty_token_is_refused() -> None:
    example = _example(OrderAwaitingPaymentV1) | {"payment_token": ""}
    with pytest.raises(ValidationError, match="payment_token"):
        OrderAwaitingPaymentV1.model_validate(example)


def test_order_cancelled_without_reason_code_still_validates() -> None:
    old_form = {
        "order_id": str(uuid.uuid4()),
        "reason": "changed my mind",
        "cancelled_at": "2026-11-23T09:31:00Z",
    }
    assert OrderCancelledV1.model_validate(old_form).reason_code is None


@pytest.mark.parametrize("code", list(CancellationReason))
def test_order_cancelled_every_reason_code_validates(code: CancellationReason) -> None:
    example = _example(OrderCancelledV1) | {"reason_code": code.value}
    assert OrderCancelledV1.model_validate(example).reason_code is code


def test_order_cancelled_unknown_reason_code_is_refused() -> None:
    with pytest.raises(ValidationError, match="reason_code"):
        OrderCancelledV1.model_validate(_example(OrderCancelledV1) | {"reason_code": "bored"})


@pytest.mark.parametrize("reason", list(RefundReason))
def test_order_refund_requested_every_reason_validates(reason: RefundReason) -> None:
    example = _example(OrderRefundRequestedV1) | {"reason": reason.value}
    assert OrderRefundRequestedV1.model_validate(example).reason is reason


def test_order_refund_requested_unknown_reason_is_refused() -> None:
    example = _example(OrderRefundRequestedV1) | {"reason": "goodwill"}
    with pytest.raises(ValidationError, match="reason"):
        OrderRefundRequestedV1.model_validate(example)


def _receipt_example(payload_class: type[EventPayload]) -> dict[str, Any]:
    examples: list[dict[str, Any]] = payload_class.model_json_schema()["examples"]
    return next(example for example in examples if "receipt" in example)


@pytest.mark.parametrize("payload_class", [OrderPaidV1, OrderCancelledV1])
def test_final_events_carry_a_receipt_or_none(payload_class: type[EventPayload]) -> None:
    with_receipt = payload_class.model_validate(_receipt_example(payload_class))
    assert with_receipt.receipt is not None  # type: ignore[attr-defined]
    assert with_receipt.receipt.total == Decimal("49.98")  # type: ignore[attr-defined]
    without = _example(payload_class)
    assert "receipt" not in without
    assert payload_class.model_validate(without).receipt is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("country", ["de", "DEU", "D1", ""])
def test_a_receipt_refuses_a_country_that_is_not_alpha_2(country: str) -> None:
    example = _receipt_example(OrderPaidV1)
    example["receipt"]["ship_to"]["country"] = country
    with pytest.raises(ValidationError, match="country"):
        OrderPaidV1.model_validate(example)


def test_a_receipt_refuses_a_line_without_a_name() -> None:
    example = _receipt_example(OrderPaidV1)
    example["receipt"]["lines"][0]["name"] = ""
    with pytest.raises(ValidationError, match="name"):
        OrderPaidV1.model_validate(example)
