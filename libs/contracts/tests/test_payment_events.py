"""Contract tests: payment's events, their examples and their constraints."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from agora_contracts.envelope import EventPayload
from agora_contracts.payment import (
    PaymentFailedV1,
    PaymentFailureReason,
    PaymentRefundedV1,
    PaymentSucceededV1,
)

PAYMENT_EVENTS: list[type[EventPayload]] = [PaymentSucceededV1, PaymentFailedV1, PaymentRefundedV1]


def _example(payload_class: type[EventPayload]) -> dict[str, Any]:
    examples: list[dict[str, Any]] = payload_class.model_json_schema()["examples"]
    return examples[0]


@pytest.mark.parametrize("payload_class", PAYMENT_EVENTS)
def test_payment_event_schema_examples_validate(payload_class: type[EventPayload]) -> None:
    examples = payload_class.model_json_schema()["examples"]
    assert examples
    for example in examples:
        assert payload_class.model_validate(example).model_dump(mode="json", exclude_none=True) == (
            example
        )


@pytest.mark.parametrize("payload_class", PAYMENT_EVENTS)
def test_payment_event_type_is_in_the_payment_family(payload_class: type[EventPayload]) -> None:
    assert payload_class.event_type.startswith("payment.")
    assert payload_class.schema_uri() == f"urn:agora:events:{payload_class.event_type}:v1"


@pytest.mark.parametrize("payload_class", PAYMENT_EVENTS)
def test_payment_event_unknown_field_is_refused(payload_class: type[EventPayload]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        payload_class.model_validate(_example(payload_class) | {"cvc": "123"})


def test_payment_succeeded_amount_is_a_decimal_with_two_places() -> None:
    payload = PaymentSucceededV1.model_validate(_example(PaymentSucceededV1))
    assert payload.amount == Decimal("49.98")
    assert payload.model_dump(mode="json")["amount"] == "49.98"


@pytest.mark.parametrize("payload_class", [PaymentSucceededV1, PaymentRefundedV1])
@pytest.mark.parametrize("amount", ["0.00", "49.985"])
def test_payment_event_amount_out_of_shape_is_refused(
    payload_class: type[EventPayload], amount: str
) -> None:
    with pytest.raises(ValidationError, match="amount"):
        payload_class.model_validate(_example(payload_class) | {"amount": amount})


def test_payment_succeeded_empty_provider_charge_id_is_refused() -> None:
    example = _example(PaymentSucceededV1) | {"provider_charge_id": ""}
    with pytest.raises(ValidationError, match="provider_charge_id"):
        PaymentSucceededV1.model_validate(example)


@pytest.mark.parametrize("reason", list(PaymentFailureReason))
def test_payment_failed_every_reason_validates(reason: PaymentFailureReason) -> None:
    example = _example(PaymentFailedV1) | {"reason": reason.value}
    assert PaymentFailedV1.model_validate(example).reason is reason


def test_payment_failed_unknown_reason_is_refused() -> None:
    with pytest.raises(ValidationError, match="reason"):
        PaymentFailedV1.model_validate(_example(PaymentFailedV1) | {"reason": "bad_luck"})
