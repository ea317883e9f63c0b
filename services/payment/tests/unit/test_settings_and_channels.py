"""Payment's settings and what its consumer declares."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agora_payment.events.subscriber import CHANNELS
from agora_payment.settings import DEFAULT_PROVIDER_DEADLINE_SECONDS, PaymentSettings


def test_settings_read_the_provider_url_from_the_stack_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGORA_PAYSIM_URL", "http://127.0.0.1:28090")

    settings = PaymentSettings(environment="test")

    assert settings.paysim_url == "http://127.0.0.1:28090"
    assert settings.service_name == "payment"
    assert settings.provider_deadline_seconds == DEFAULT_PROVIDER_DEADLINE_SECONDS


def test_settings_refuse_a_deadline_that_allows_no_call() -> None:
    with pytest.raises(ValidationError):
        PaymentSettings(environment="test", provider_deadline_seconds=0)


def test_channels_publish_the_payment_events_and_consume_ordering_requests() -> None:
    assert [c.event_type for c in CHANNELS.publishes] == [
        "payment.succeeded",
        "payment.failed",
        "payment.refunded",
    ]
    assert [c.event_type for c in CHANNELS.consumes] == [
        "order.awaiting_payment",
        "order.refund_requested",
    ]
