"""Payment's settings: the chassis base plus where the payment provider is and how long to wait."""

from __future__ import annotations

from pydantic import Field

from agora_chassis.settings import ServiceSettings

DEFAULT_PROVIDER_DEADLINE_SECONDS = 5.0


class PaymentSettings(ServiceSettings):
    """Settings of the payment service (environment variables ``AGORA_*``).

    Attributes:
        paysim_url: Base URL of the payment provider (the simulator in the stack).
        provider_deadline_seconds: Time budget of one charge or refund call, retries included.
            Longer than the chassis default (2 s): a card processor takes its time, and a call
            that runs out leaves the charge in doubt until the provider answers a retry.
    """

    service_name: str = "payment"
    paysim_url: str = "http://127.0.0.1:18090"
    provider_deadline_seconds: float = Field(default=DEFAULT_PROVIDER_DEADLINE_SECONDS, gt=0)
