"""What the provider's answers mean: charged, declined for good, wait, or a bug of ours."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from agora_chassis.service_client import TargetUnavailable
from agora_contracts.payment import PaymentFailureReason
from agora_payment.services.outcomes import (
    Charged,
    Declined,
    ProviderRefused,
    Refunded,
    Unavailable,
    charge_outcome,
    minor_units,
    refund_outcome,
    unavailable,
)


def error(status_code: int, **fields: str) -> tuple[int, dict[str, dict[str, str]]]:
    return status_code, {"error": {"type": "card_error", "message": "Nope.", **fields}}


@pytest.mark.parametrize(
    ("amount", "expected"),
    [(Decimal("19.99"), 1999), (Decimal("0.01"), 1), (Decimal("49.9"), 4990), (Decimal(7), 700)],
)
def test_minor_units_two_places_are_whole_cents(amount: Decimal, expected: int) -> None:
    assert minor_units(amount) == expected


def test_minor_units_a_fraction_of_a_cent_is_refused() -> None:
    with pytest.raises(ValueError, match="two decimal places"):
        minor_units(Decimal("0.001"))


def test_charge_outcome_200_is_charged() -> None:
    assert charge_outcome(200, {"id": "ch_1", "status": "succeeded"}) == Charged("ch_1")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (error(402, code="card_declined", decline_code="generic_decline"), "card_declined"),
        (
            error(402, code="card_declined", decline_code="insufficient_funds"),
            "insufficient_funds",
        ),
        (error(404, code="resource_missing", param="source"), "invalid_token"),
        (error(400, code="token_already_used", param="source"), "invalid_token"),
        (error(402, code="expired_card"), "invalid_token"),
    ],
)
def test_charge_outcome_refusals_of_the_card_are_final_declines(
    answer: tuple[int, dict[str, dict[str, str]]], reason: str
) -> None:
    outcome = charge_outcome(*answer)

    assert isinstance(outcome, Declined)
    assert outcome.reason == PaymentFailureReason(reason)
    assert outcome.detail == "Nope."


@pytest.mark.parametrize("status_code", [500, 502, 503])
def test_charge_outcome_server_errors_mean_wait(status_code: int) -> None:
    assert charge_outcome(status_code, None) == Unavailable(
        in_doubt=False, detail=f"provider answered {status_code}"
    )


@pytest.mark.parametrize("answer", [error(400, code="idempotency_key_in_use"), (200, {})])
def test_charge_outcome_malformed_exchange_is_a_permanent_failure(
    answer: tuple[int, dict[str, object]],
) -> None:
    with pytest.raises(ProviderRefused):
        charge_outcome(*answer)


def test_refund_outcome_200_is_refunded_and_4xx_is_refused() -> None:
    assert refund_outcome(200, {"id": "re_1"}) == Refunded("re_1")
    assert refund_outcome(500, None) == Unavailable(in_doubt=False, detail="provider answered 500")
    with pytest.raises(ProviderRefused, match="charge_already_refunded"):
        refund_outcome(*error(400, code="charge_already_refunded"))


def _given_up(cause: BaseException | None) -> TargetUnavailable:
    error = TargetUnavailable("paysim", "unavailable")
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("cause", "in_doubt"),
    [
        (None, False),  # breaker open, or a 502/503/504 answer
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("slow connect"), False),
        (httpx.ReadTimeout("no answer"), True),
        (TimeoutError(), True),
        (httpx.RemoteProtocolError("dropped"), True),
    ],
)
def test_unavailable_in_doubt_only_when_the_request_may_have_been_processed(
    cause: BaseException | None, in_doubt: bool
) -> None:
    assert unavailable(_given_up(cause)).in_doubt is in_doubt
