"""Reading the JSON bodies of ``/v1`` requests into checked values, or a 400 naming the param."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from agora_cli.paysim.cards import Card, CardError, read_card
from agora_cli.paysim.processor import (
    HTTP_PAYMENT_REQUIRED,
    ApiError,
    ChargeRequest,
    RefundRequest,
    invalid_request,
)

MAX_BODY_BYTES = 16 * 1024
MAX_AMOUNT = 99_999_999  # Stripe's ceiling, in minor units
CURRENCY_PATTERN = re.compile(r"[A-Za-z]{3}")
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
MAX_METADATA_KEYS = 20
MAX_METADATA_VALUE = 500


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object.

    Raises:
        ApiError: The body is too large, not JSON, or not an object.
    """
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise invalid_request("parameter_invalid", "The request body is too large.", "body")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise invalid_request(
            "parameter_invalid", "The request body is not valid JSON.", "body"
        ) from None
    if not isinstance(body, dict):
        raise invalid_request("parameter_invalid", "The request body must be an object.", "body")
    return body


def _required(body: dict[str, Any], name: str, kind: type, param: str | None = None) -> Any:
    """``body[name]``, which must be of ``kind`` (a bool is no int here)."""
    param = param or name
    if name not in body or body[name] is None:
        raise invalid_request("parameter_missing", f"Missing required param: {param}.", param)
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise invalid_request("parameter_invalid", f"Invalid {param}: wrong type.", param)
    return value


def _amount(value: int) -> int:
    if not 1 <= value <= MAX_AMOUNT:
        raise invalid_request(
            "parameter_invalid",
            f"Invalid amount: a whole number of minor units from 1 to {MAX_AMOUNT}.",
            "amount",
        )
    return value


def read_token_card(body: dict[str, Any]) -> Card:
    """The card of a ``POST /v1/tokens`` body (``{"card": {number, exp_month, exp_year, cvc}}``).

    Raises:
        ApiError: 400 for a missing or mistyped field, 402 ``card_error`` for a card the rules
            refuse (bad number, expired, bad CVC).
    """
    card = _required(body, "card", dict)
    number = _required(card, "number", str, "card[number]")
    exp_month = _required(card, "exp_month", int, "card[exp_month]")
    exp_year = _required(card, "exp_year", int, "card[exp_year]")
    cvc = _required(card, "cvc", str, "card[cvc]")
    try:
        return read_card(number, exp_month, exp_year, cvc)
    except CardError as error:
        raise ApiError(
            HTTP_PAYMENT_REQUIRED, "card_error", error.code, str(error), param=error.param
        ) from None


def _metadata(body: dict[str, Any]) -> dict[str, str]:
    metadata = body.get("metadata") or {}
    if (
        not isinstance(metadata, dict)
        or len(metadata) > MAX_METADATA_KEYS
        or not all(
            isinstance(value, str) and len(value) <= MAX_METADATA_VALUE
            for value in metadata.values()
        )
    ):
        raise invalid_request(
            "parameter_invalid",
            f"Invalid metadata: up to {MAX_METADATA_KEYS} string values.",
            "metadata",
        )
    return {str(key): value for key, value in metadata.items()}


def read_charge(body: dict[str, Any]) -> ChargeRequest:
    """A ``POST /v1/charges`` body: ``source`` (a token), ``amount``, ``currency``, ``metadata``.

    Raises:
        ApiError: 400 naming the missing or invalid parameter.
    """
    source = _required(body, "source", str)
    amount = _amount(_required(body, "amount", int))
    currency = _required(body, "currency", str)
    if not CURRENCY_PATTERN.fullmatch(currency):
        raise invalid_request(
            "parameter_invalid", "Invalid currency: a three-letter ISO code.", "currency"
        )
    return ChargeRequest(source, amount, currency.lower(), _metadata(body))


def read_refund(body: dict[str, Any]) -> RefundRequest:
    """A ``POST /v1/refunds`` body: ``charge`` and, optionally, ``amount`` (default: the rest).

    Raises:
        ApiError: 400 naming the missing or invalid parameter.
    """
    charge = _required(body, "charge", str)
    if body.get("amount") is None:
        return RefundRequest(charge)
    return RefundRequest(charge, _amount(_required(body, "amount", int)))


def idempotency_key(request: Request) -> str:
    """The ``Idempotency-Key`` header, required on charges and refunds.

    Raises:
        ApiError: 400 when it is missing, longer than 255 characters or not printable ASCII.
    """
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if not key:
        raise invalid_request(
            "idempotency_key_missing",
            "An Idempotency-Key header is required: a retry with it never charges twice.",
            IDEMPOTENCY_HEADER,
        )
    if len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise invalid_request(
            "parameter_invalid",
            f"The Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            IDEMPOTENCY_HEADER,
        )
    return key
