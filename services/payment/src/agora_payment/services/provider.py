"""The payment provider's charges and refunds, called through the chassis service client.

One ``ServiceClient`` (target ``paysim``: its breaker, retries and metrics, ADR 0017) and one
``httpx.AsyncClient`` (its connection pool) for the process. Every request carries an
``Idempotency-Key`` (the order id for a charge, the payment id for a refund), so it is safe to
repeat: the client retries it on a timeout or a lost connection as on a refused connection, and
the provider answers a repeat with its first answer instead of charging twice.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx

from agora_chassis.service_client import ServiceClient, TargetUnavailable
from agora_payment.services.outcomes import (
    Charged,
    Declined,
    Refunded,
    Unavailable,
    charge_outcome,
    minor_units,
    refund_outcome,
    unavailable,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
CHARGES_PATH = "/v1/charges"
REFUNDS_PATH = "/v1/refunds"


class PaymentProvider:
    """Charges and refunds at the provider.

    Args:
        client: The service client of the provider (its breaker shows in readiness).
        http: An HTTP client whose ``base_url`` is the provider's.
        deadline: Seconds for one charge or refund, retries included.
    """

    def __init__(self, client: ServiceClient, http: httpx.AsyncClient, deadline: float) -> None:
        self.client = client
        self.http = http
        self.deadline = deadline

    async def charge(
        self, *, order_id: uuid.UUID, token: str, amount: Decimal, currency: str
    ) -> Charged | Declined | Unavailable:
        """Charge the order's card once (the order id is the idempotency key).

        Returns:
            Charged, declined for good, or unavailable (wait and ask again with the same key).

        Raises:
            ProviderRefused: The provider refused the request as malformed.
        """
        body = {
            "source": token,
            "amount": minor_units(amount),
            "currency": currency.lower(),
            "metadata": {"order_id": str(order_id)},
        }
        try:
            response = await self._post(CHARGES_PATH, str(order_id), body)
        except TargetUnavailable as error:
            return unavailable(error)
        return charge_outcome(response.status_code, _json(response))

    async def refund(
        self, *, payment_id: uuid.UUID, charge_id: str, amount: Decimal
    ) -> Refunded | Unavailable:
        """Refund ``amount`` of the charge once (the payment id is the idempotency key).

        Raises:
            ProviderRefused: The provider refused the refund (no such charge, too much).
        """
        body = {"charge": charge_id, "amount": minor_units(amount)}
        try:
            response = await self._post(REFUNDS_PATH, str(payment_id), body)
        except TargetUnavailable as error:
            return unavailable(error)
        return refund_outcome(response.status_code, _json(response))

    async def _post(self, path: str, key: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.request(
            self.http,
            "POST",
            path,
            json=body,
            headers={IDEMPOTENCY_HEADER: key},
            idempotent=True,  # the key makes a repeat harmless
            deadline=self.deadline,
        )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
