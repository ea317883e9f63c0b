"""Card rules of the simulator: Luhn, expiry and CVC checks, and the behaviour of the test cards.

The card number lives only in this module's functions: what leaves them is the brand, the last
four digits and the behaviour the number stands for, never the number itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

CARD_NUMBER_LENGTHS = range(12, 20)
CVC_PATTERN = re.compile(r"\d{3,4}")
MONTHS_IN_YEAR = 12
LAST_DIGITS = 4
MAX_YEARS_AHEAD = 50  # no card is issued for longer
# A number may be typed in groups; nothing else is tolerated between its digits.
SEPARATORS = re.compile(r"[ -]")


class Behaviour(StrEnum):
    """What charging a card does."""

    SUCCEEDS = "succeeds"
    DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"


TEST_CARDS: dict[str, Behaviour] = {
    "4242424242424242": Behaviour.SUCCEEDS,
    "4000000000000002": Behaviour.DECLINED,
    "4000000000009995": Behaviour.INSUFFICIENT_FUNDS,
}
"""The documented test cards; any other valid number succeeds."""

BRAND_PREFIXES = (("4", "visa"), ("5", "mastercard"), ("34", "amex"), ("37", "amex"))


class CardError(ValueError):
    """A card the processor refuses to tokenise.

    Attributes:
        code: The error code (``invalid_number``, ``invalid_expiry_month``, ``invalid_expiry_year``,
            ``expired_card``, ``invalid_cvc``).
        param: The request parameter at fault.
    """

    def __init__(self, code: str, param: str, message: str) -> None:
        """Describe the refusal."""
        super().__init__(message)
        self.code = code
        self.param = param


@dataclass(frozen=True)
class Card:
    """What the simulator keeps of a card: never its number nor its CVC.

    Attributes:
        brand: ``visa``, ``mastercard``, ``amex`` or ``unknown``.
        last4: The last four digits.
        exp_month: Expiry month, 1 to 12.
        exp_year: Expiry year, four digits.
        behaviour: What charging it does.
    """

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    behaviour: Behaviour


def luhn_valid(digits: str) -> bool:
    """Tell whether ``digits`` (only digits) pass the Luhn check."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2  # noqa: PLR2004 - Luhn's doubling
        total += value
    return total % 10 == 0


def normalise_number(number: str) -> str:
    """The digits of ``number`` without spaces or dashes.

    Raises:
        CardError: ``invalid_number`` when it is not 12 to 19 digits passing the Luhn check.
    """
    digits = SEPARATORS.sub("", number)
    if not digits.isascii() or not digits.isdigit() or len(digits) not in CARD_NUMBER_LENGTHS:
        raise CardError("invalid_number", "card[number]", "The card number is not a valid number.")
    if not luhn_valid(digits):
        raise CardError("invalid_number", "card[number]", "The card number is incorrect.")
    return digits


def check_expiry(month: int, year: int, now: datetime | None = None) -> None:
    """Refuse a month out of 1-12 or a card whose expiry month has passed.

    Raises:
        CardError: ``invalid_expiry_month``, ``invalid_expiry_year`` or ``expired_card``.
    """
    today = now or datetime.now(UTC)
    if not 1 <= month <= MONTHS_IN_YEAR:
        raise CardError("invalid_expiry_month", "card[exp_month]", "The expiry month is invalid.")
    if not today.year <= year <= today.year + MAX_YEARS_AHEAD:
        raise CardError("invalid_expiry_year", "card[exp_year]", "The expiry year is invalid.")
    if (year, month) < (today.year, today.month):
        raise CardError("expired_card", "card[exp_month]", "The card has expired.")


def check_cvc(cvc: str) -> None:
    """Refuse a CVC that is not 3 or 4 digits.

    Raises:
        CardError: ``invalid_cvc``.
    """
    if not CVC_PATTERN.fullmatch(cvc):
        raise CardError("invalid_cvc", "card[cvc]", "The CVC is invalid.")


def brand_of(digits: str) -> str:
    """The card brand its leading digits name (``unknown`` for the rest)."""
    return next((brand for prefix, brand in BRAND_PREFIXES if digits.startswith(prefix)), "unknown")


def read_card(number: str, exp_month: int, exp_year: int, cvc: str) -> Card:
    """Check a card and keep only what may be stored of it.

    Args:
        number: The card number, digits possibly grouped by spaces or dashes.
        exp_month: Expiry month.
        exp_year: Expiry year (four digits).
        cvc: The card verification code.

    Raises:
        CardError: The first rule the card breaks.
    """
    digits = normalise_number(number)
    check_expiry(exp_month, exp_year)
    check_cvc(cvc)
    return Card(
        brand=brand_of(digits),
        last4=digits[-LAST_DIGITS:],
        exp_month=exp_month,
        exp_year=exp_year,
        behaviour=TEST_CARDS.get(digits, Behaviour.SUCCEEDS),
    )
