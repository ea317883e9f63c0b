"""Pure rules behind the basket, checkout and order pages."""

from __future__ import annotations

import uuid

import pycountry
import pytest

from agora_storefront.api.basket import parse_quantity, quantity_message
from agora_storefront.api.checkout import is_key, refused_attempt
from agora_storefront.services.backends import Refused
from agora_storefront.services.baskets import BasketView
from agora_storefront.services.countries import countries, home_country
from agora_storefront.services.orders import can_cancel, is_final, reason_text


@pytest.mark.parametrize(
    ("raw", "minimum", "expected"),
    [
        ("2", 1, 2),
        (" 7 ", 1, 7),
        ("0", 0, 0),
        ("99", 1, 99),
        ("0", 1, None),
        ("100", 0, None),
        ("-1", 0, None),
        ("1.5", 1, None),
        ("", 1, None),
        ("two", 1, None),
        ("\u00b2", 1, None),
        ("\u0661", 1, 1),
    ],
)
def test_a_typed_quantity_is_a_whole_number_in_range(
    raw: str, minimum: int, expected: int | None
) -> None:
    assert parse_quantity(raw, minimum) == expected


def test_the_quantity_message_names_the_range() -> None:
    assert quantity_message(0) == "Enter a whole number from 0 to 99."


def test_every_country_offered_is_one_ordering_accepts() -> None:
    offered = countries("en_US")
    codes = [code for code, _name in offered]
    assert len(codes) == len(set(codes)) > 200
    unknown = [code for code in codes if pycountry.countries.get(alpha_2=code) is None]
    assert unknown == [], "ordering refuses codes that are not ISO 3166-1 alpha-2"
    names = [name.casefold() for _code, name in offered]
    assert names == sorted(names), "ordered by name, as a shopper looks for theirs"
    assert ("DE", "Germany") in offered
    assert ("DE", "Deutschland") in countries("de_DE")


def test_the_address_form_starts_at_the_locale_s_country() -> None:
    assert home_country("en_US") == "US"
    assert home_country("de_DE") == "DE"
    assert home_country("en") == ""


@pytest.mark.parametrize(
    ("status", "final", "cancellable"),
    [
        ("pending", False, True),
        ("stock_reserved", False, True),
        ("awaiting_payment", False, True),
        ("paid", True, False),
        ("cancelled", True, False),
    ],
)
def test_orders_are_followed_until_final_and_cancellable_until_paid(
    status: str, final: bool, cancellable: bool
) -> None:
    assert is_final(status) is final
    assert can_cancel(status) is cancellable


def test_a_cancellation_reason_reads_as_a_sentence() -> None:
    assert reason_text("payment_declined") == "The card payment was declined."
    assert reason_text("lost_in_the_post") == "Lost in the post."
    assert reason_text(None) == ""


def test_a_basket_view_finds_a_product_s_line() -> None:
    view = BasketView({"lines": [{"product_id": "p1", "quantity": 3, "name": "Lamp"}]}, None)
    assert view.lines == 1
    assert view.quantity_of("p1") == 3
    assert view.quantity_of("p2") == 0
    assert view.line("p1") == {"product_id": "p1", "quantity": 3, "name": "Lamp"}
    assert view.line("p2") is None


def test_field_errors_are_keyed_by_the_last_part_of_the_field() -> None:
    problem = {
        "errors": [
            {"field": "ship_to.city", "message": "too short"},
            {"field": "ship_to.city", "message": "second message"},
            {"message": "basket is empty"},
        ]
    }
    assert Refused(422, problem).field_errors() == {"city": "too short", "form": "basket is empty"}


def test_a_refused_placement_keeps_what_can_be_used_again() -> None:
    key = str(uuid.uuid4())
    invalid = Refused(422, {"errors": [{"field": "ship_to.city", "message": "required"}]})
    attempt = refused_attempt(invalid, "tok_1", key)
    assert attempt.errors == {"city": "required"}
    assert attempt.payment_token == "tok_1", "the card token was not used"
    assert attempt.key != key, "nothing was placed: the next try is a new checkout"
    card = Refused(422, {"errors": [{"field": "payment_token", "message": "bad token"}]})
    assert refused_attempt(card, "tok_1", key).errors == {"card_number": "bad token"}
    assert refused_attempt(card, "tok_1", key).payment_token == ""
    busy = refused_attempt(Refused(409, {"detail": "in progress"}), "tok_1", key)
    assert (busy.key, busy.errors) == (key, {"form": "in progress"}), "a retry may replay"
    reused = refused_attempt(Refused(422, {"title": "Idempotency-Key reused"}), "tok_2", key)
    assert "sent already" in reused.errors["form"]
    assert reused.payment_token == ""


def test_only_a_uuid_is_a_checkout_key() -> None:
    assert is_key(str(uuid.uuid4()))
    assert not is_key("")
    assert not is_key("not-a-key")
