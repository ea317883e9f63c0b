"""Money in event payloads: an amount as a decimal with two places and an ISO 4217 currency.

Amounts travel as JSON strings (``"49.98"``), never floats, so every service reads the same cents.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

CURRENCY_LENGTH = 3
AMOUNT_MAX_DIGITS = 12

Amount = Annotated[Decimal, Field(gt=0, max_digits=AMOUNT_MAX_DIGITS, decimal_places=2)]
"""A positive amount of money with at most two decimal places."""

Currency = Annotated[str, Field(min_length=CURRENCY_LENGTH, max_length=CURRENCY_LENGTH)]
"""An ISO 4217 currency code such as ``EUR``."""
