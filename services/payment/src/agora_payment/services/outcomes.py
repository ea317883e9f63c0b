"""What the payment provider's answers mean for a payment: pure functions, tested alone.

The provider (``agora_cli.paysim``, shaped like Stripe; ADR 0022) speaks JSON with amounts in
whole minor units and errors as ``{"error": {type, code, message, param?, decline_code?}}``:

============================================  =============================================
answer                                        outcome
============================================  =============================================
200 ``charge`` / ``refund``                   :class:`Charged` / :class:`Refunded`
402 ``card_error``, ``insufficient_funds``    :class:`Declined` (``insufficient_funds``)
402 ``card_error``, another decline           :class:`Declined` (``card_declined``)
4xx about the token (``param: source``)       :class:`Declined` (``invalid_token``): unknown,
                                              used or expired
5xx (``api_error``)                           :class:`Unavailable`: nothing was recorded (the
                                              provider fails at its front door), wait
any other 4xx                                 :class:`ProviderRefused`: a bug of ours; the
                                              message is dead-lettered for an operator
============================================  =============================================

A declined card is final: a retry with the same key would only replay the decline.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from agora_chassis.messaging import PermanentFailure
from agora_chassis.service_client import TargetUnavailable
from agora_contracts.payment import DETAIL_MAX, PaymentFailureReason

MINOR_UNITS_PER_UNIT = 100
"""Every currency Agora sells in has two decimal places (``agora_contracts.money.Amount``)."""
HTTP_OK = 200
HTTP_PAYMENT_REQUIRED = 402
HTTP_SERVER_ERROR = 500
SOURCE_PARAM = "source"  # the request parameter naming the card token
TOKEN_CODES = frozenset({"token_already_used", "expired_token", "expired_card"})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport failures before the request left: the provider cannot have acted on it."""


class ProviderRefused(PermanentFailure):
    """The provider refused a request as malformed: no retry can mend it (dead-lettered)."""


@dataclass(frozen=True)
class Charged:
    """The card was charged (now, or by the first request with this key)."""

    charge_id: str


@dataclass(frozen=True)
class Declined:
    """The charge failed for good."""

    reason: PaymentFailureReason
    detail: str | None


@dataclass(frozen=True)
class Refunded:
    """The charge was refunded (now, or by the first request with this key)."""

    refund_id: str


@dataclass(frozen=True)
class Unavailable:
    """The provider did not answer.

    Attributes:
        in_doubt: The request may have reached the provider and been acted on (its answer was
            lost); only a retry with the same key can tell.
        detail: What happened, for the logs.
    """

    in_doubt: bool
    detail: str


def minor_units(amount: Decimal) -> int:
    """``amount`` in minor units (``Decimal("19.99")`` → ``1999``).

    Raises:
        ValueError: The amount has more than two decimal places.
    """
    scaled = amount * MINOR_UNITS_PER_UNIT
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more than two decimal places")
    return int(scaled)


def _error(body: Any) -> dict[str, Any]:
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _detail(error: dict[str, Any]) -> str | None:
    message = error.get("message")
    return str(message)[:DETAIL_MAX] if message else None


def _refused(status: int, error: dict[str, Any]) -> ProviderRefused:
    return ProviderRefused(f"provider refused the request: {status} {error.get('code', '?')}")


def charge_outcome(status: int, body: Any) -> Charged | Declined | Unavailable:
    """What a ``POST /v1/charges`` answer means (see the module's table).

    Raises:
        ProviderRefused: A 4xx that is no decline: the request itself is wrong.
    """
    if status == HTTP_OK and isinstance(body, dict) and body.get("id"):
        return Charged(str(body["id"]))
    if status >= HTTP_SERVER_ERROR:
        return Unavailable(in_doubt=False, detail=f"provider answered {status}")
    error = _error(body)
    if error.get("param") == SOURCE_PARAM or error.get("code") in TOKEN_CODES:
        return Declined(PaymentFailureReason.INVALID_TOKEN, _detail(error))
    if status == HTTP_PAYMENT_REQUIRED:
        if error.get("decline_code") == PaymentFailureReason.INSUFFICIENT_FUNDS.value:
            return Declined(PaymentFailureReason.INSUFFICIENT_FUNDS, _detail(error))
        return Declined(PaymentFailureReason.CARD_DECLINED, _detail(error))
    raise _refused(status, error)


def refund_outcome(status: int, body: Any) -> Refunded | Unavailable:
    """What a ``POST /v1/refunds`` answer means.

    Raises:
        ProviderRefused: A 4xx (no such charge, already refunded by another key, too much).
    """
    if status == HTTP_OK and isinstance(body, dict) and body.get("id"):
        return Refunded(str(body["id"]))
    if status >= HTTP_SERVER_ERROR:
        return Unavailable(in_doubt=False, detail=f"provider answered {status}")
    raise _refused(status, _error(body))


def unavailable(error: TargetUnavailable) -> Unavailable:
    """The provider could not be reached: in doubt unless the request surely never left.

    The client raises ``TargetUnavailable`` with the last attempt's error as its cause: none
    for an open breaker or a 502/503/504 answer, a connect error when nothing was sent, a
    timeout or a lost connection when the request may have been processed.
    """
    cause = error.__cause__
    in_doubt = cause is not None and not isinstance(cause, NOT_SENT)
    return Unavailable(in_doubt=in_doubt, detail=str(error))
