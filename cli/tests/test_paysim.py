"""Unit tests of the payment simulator: card rules, faults, and charges/refunds on its ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agora_cli.paysim.cards import (
    Behaviour,
    CardError,
    brand_of,
    check_cvc,
    check_expiry,
    luhn_valid,
    normalise_number,
    read_card,
)
from agora_cli.paysim.faults import (
    FaultDice,
    Faults,
    FaultSettingsError,
    faults_from_env,
    seed_from_env,
    updated,
)
from agora_cli.paysim.ledger import Ledger
from agora_cli.paysim.processor import (
    ApiError,
    ChargeRequest,
    RefundRequest,
    create_charge,
    create_refund,
    create_token,
    get_charge,
)

SUCCEEDS = "4242 4242 4242 4242"
DECLINES = "4000 0000 0000 0002"
INSUFFICIENT = "4000-0000-0000-9995"
NEXT_YEAR = datetime.now(UTC).year + 1


def card_token(ledger: Ledger, number: str = SUCCEEDS) -> str:
    """A new token for ``number``."""
    return str(create_token(ledger, read_card(number, 12, NEXT_YEAR, "123"))["id"])


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "paysim")


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4242424242424242", True),
        ("4000000000000002", True),
        ("4000000000009995", True),
        ("4242424242424241", False),
        ("79927398713", True),
        ("79927398710", False),
    ],
)
def test_luhn_valid_known_numbers_returns_expected(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


def test_normalise_number_groups_stripped_bad_numbers_refused() -> None:
    assert normalise_number("4242 4242-4242 4242") == "4242424242424242"
    for bad in (
        "4242 4242 4242 4241",
        "4242",
        "4242x42424242424",
        "\uff14\uff12" * 8,  # full-width digits are digits to str.isdigit, not to a card
        "",
    ):
        with pytest.raises(CardError) as refused:
            normalise_number(bad)
        assert (refused.value.code, refused.value.param) == ("invalid_number", "card[number]")


def test_check_expiry_past_month_expired_current_month_accepted() -> None:
    now = datetime(2030, 6, 15, tzinfo=UTC)
    check_expiry(6, 2030, now)
    check_expiry(1, 2031, now)
    cases = [
        ((5, 2030), "expired_card"),
        ((13, 2031), "invalid_expiry_month"),
        ((0, 2031), "invalid_expiry_month"),
        ((1, 2029), "invalid_expiry_year"),
        ((1, 2099), "invalid_expiry_year"),
    ]
    for (month, year), code in cases:
        with pytest.raises(CardError) as refused:
            check_expiry(month, year, now)
        assert refused.value.code == code


def test_check_cvc_three_or_four_digits_only() -> None:
    check_cvc("123")
    check_cvc("1234")
    for bad in ("12", "12345", "12a", ""):
        with pytest.raises(CardError, match="CVC"):
            check_cvc(bad)


def test_read_card_keeps_last4_brand_behaviour_not_the_number() -> None:
    cards = [
        read_card(number, 12, NEXT_YEAR, "123") for number in (SUCCEEDS, DECLINES, INSUFFICIENT)
    ]
    assert [card.behaviour for card in cards] == [
        Behaviour.SUCCEEDS,
        Behaviour.DECLINED,
        Behaviour.INSUFFICIENT_FUNDS,
    ]
    assert [card.last4 for card in cards] == ["4242", "0002", "9995"]
    assert "4242424242424242" not in repr(cards[0])
    assert read_card("5555555555554444", 1, NEXT_YEAR, "999").behaviour is Behaviour.SUCCEEDS
    assert (brand_of("5555555555554444"), brand_of("378282246310005"), brand_of("6011")) == (
        "mastercard",
        "amex",
        "unknown",
    )


def test_create_charge_test_cards_succeed_decline_and_lack_funds(ledger: Ledger) -> None:
    outcomes = [
        create_charge(ledger, ChargeRequest(card_token(ledger, number), 1999, "eur"), f"k{n}")
        for n, number in enumerate((SUCCEEDS, DECLINES, INSUFFICIENT))
    ]

    assert [outcome.status for outcome in outcomes] == [200, 402, 402]
    assert outcomes[0].body["status"] == "succeeded"
    assert outcomes[0].body["paid"] is True
    assert [o.body["error"]["decline_code"] for o in outcomes[1:]] == [
        "generic_decline",
        "insufficient_funds",
    ]
    assert {o.body["error"]["code"] for o in outcomes[1:]} == {"card_declined"}
    assert {o.body["error"]["type"] for o in outcomes[1:]} == {"card_error"}
    assert [c["status"] for c in ledger.charges()] == ["failed", "failed", "succeeded"]


def test_create_charge_same_key_replays_and_charges_once(ledger: Ledger) -> None:
    request = ChargeRequest(card_token(ledger), 500, "eur", {"order_id": "o-1"})

    first = create_charge(ledger, request, "order-o-1")
    again = create_charge(ledger, request, "order-o-1")

    assert (first.status, first.replayed) == (200, False)
    assert (again.status, again.replayed) == (200, True)
    assert again.body == first.body
    assert len(ledger.charges()) == 1


def test_create_charge_same_key_other_params_refused(ledger: Ledger) -> None:
    token = card_token(ledger)
    create_charge(ledger, ChargeRequest(token, 500, "eur"), "key")

    with pytest.raises(ApiError) as refused:
        create_charge(ledger, ChargeRequest(token, 501, "eur"), "key")

    assert refused.value.status == 400
    assert refused.value.body["type"] == "idempotency_error"
    assert len(ledger.charges()) == 1


def test_create_charge_used_token_with_new_key_refused(ledger: Ledger) -> None:
    token = card_token(ledger)
    create_charge(ledger, ChargeRequest(token, 500, "eur"), "first")

    with pytest.raises(ApiError) as refused:
        create_charge(ledger, ChargeRequest(token, 500, "eur"), "second")

    assert (refused.value.status, refused.value.body["code"]) == (400, "token_already_used")


def test_create_charge_unknown_token_404_and_key_stays_free(ledger: Ledger) -> None:
    with pytest.raises(ApiError) as refused:
        create_charge(ledger, ChargeRequest("tok_nope", 500, "eur"), "key")
    outcome = create_charge(ledger, ChargeRequest(card_token(ledger), 500, "eur"), "key")

    assert (refused.value.status, refused.value.body["code"]) == (404, "resource_missing")
    assert outcome.status == 200


def test_create_refund_full_by_default_then_already_refunded(ledger: Ledger) -> None:
    charge = create_charge(ledger, ChargeRequest(card_token(ledger), 700, "eur"), "c").body

    refund = create_refund(ledger, RefundRequest(charge["id"]), "r1")
    replay = create_refund(ledger, RefundRequest(charge["id"]), "r1")
    with pytest.raises(ApiError) as refused:
        create_refund(ledger, RefundRequest(charge["id"]), "r2")

    assert (refund.status, refund.body["amount"], refund.body["charge"]) == (200, 700, charge["id"])
    assert replay.replayed
    assert replay.body == refund.body
    assert refused.value.body["code"] == "charge_already_refunded"
    after = get_charge(ledger, charge["id"])
    assert (after["amount_refunded"], after["refunded"]) == (700, True)
    assert len(ledger.refunds()) == 1


def test_create_refund_partial_then_more_than_left_refused(ledger: Ledger) -> None:
    charge = create_charge(ledger, ChargeRequest(card_token(ledger), 1000, "eur"), "c").body

    create_refund(ledger, RefundRequest(charge["id"], 400), "r1")
    with pytest.raises(ApiError) as refused:
        create_refund(ledger, RefundRequest(charge["id"], 601), "r2")
    rest = create_refund(ledger, RefundRequest(charge["id"]), "r3")

    assert (refused.value.status, refused.value.body["code"]) == (400, "amount_too_large")
    assert rest.body["amount"] == 600


def test_create_refund_declined_or_unknown_charge_refused(ledger: Ledger) -> None:
    declined = create_charge(ledger, ChargeRequest(card_token(ledger, DECLINES), 10, "eur"), "c")
    charge_id = declined.body["error"]["charge"]

    with pytest.raises(ApiError) as not_refundable:
        create_refund(ledger, RefundRequest(charge_id), "r1")
    with pytest.raises(ApiError) as missing:
        create_refund(ledger, RefundRequest("ch_nope"), "r2")

    assert not_refundable.value.body["code"] == "charge_not_refundable"
    assert missing.value.status == 404


def test_ledger_file_never_holds_the_card_number(ledger: Ledger) -> None:
    token = card_token(ledger)
    create_charge(ledger, ChargeRequest(token, 100, "eur"), "k")

    stored = b"".join(path.read_bytes() for path in ledger.file.parent.iterdir())

    assert b"4242424242424242" not in stored
    assert b"4242 4242 4242 4242" not in stored
    assert b"4242" in stored  # the last four digits are kept, so the search itself works


def test_updated_faults_validates_each_setting() -> None:
    faults = updated(Faults(), {"latency_ms": 250, "failure_rate": "0.5", "timeout_rate": 1})
    assert (faults.latency_ms, faults.failure_rate, faults.timeout_rate) == (250, 0.5, 1.0)
    assert faults.latency_seconds == 0.25
    for bad in (
        {"failure_rate": 1.5},
        {"latency_ms": -1},
        {"timeout_rate": True},
        {"timeout_rate": "x"},
        {"nope": 1},
        {"timeout_seconds": [1]},
    ):
        with pytest.raises(FaultSettingsError):
            updated(Faults(), bad)


def test_faults_from_env_reads_variables_and_names_them_when_wrong() -> None:
    faults = faults_from_env(
        {"AGORA_PAYSIM_LATENCY_MS": "20", "AGORA_PAYSIM_TIMEOUT_SECONDS": "2.5"}
    )
    assert (faults.latency_ms, faults.timeout_seconds, faults.failure_rate) == (20, 2.5, 0.0)
    with pytest.raises(FaultSettingsError, match="AGORA_PAYSIM_"):
        faults_from_env({"AGORA_PAYSIM_FAILURE_RATE": "2"})
    assert (seed_from_env({}), seed_from_env({"AGORA_PAYSIM_SEED": "7"})) == (None, 7)
    with pytest.raises(FaultSettingsError):
        seed_from_env({"AGORA_PAYSIM_SEED": "seven"})


def test_fault_dice_rates_zero_and_one_are_certain_seed_reproducible() -> None:
    dice = FaultDice(1)
    assert not any(dice.fails(Faults()) or dice.times_out(Faults()) for _ in range(100))
    always = Faults(failure_rate=1.0, timeout_rate=1.0)
    assert all(dice.fails(always) and dice.times_out(always) for _ in range(100))
    half = Faults(failure_rate=0.5)
    first, second = FaultDice(42), FaultDice(42)
    draws = [first.fails(half) for _ in range(50)]
    assert draws == [second.fails(half) for _ in range(50)]
    assert 0 < sum(draws) < 50
