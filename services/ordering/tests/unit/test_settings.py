"""Ordering settings: the saga's step timeouts and the deadline scheduler, from the environment."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from agora_ordering.domain import SagaTimeouts
from agora_ordering.settings import OrderingSettings

POSITIVE_FIELDS = [
    "stock_timeout_seconds",
    "payment_timeout_seconds",
    "deadline_poll_seconds",
    "deadline_batch",
]


def test_settings_defaults_match_the_design(monkeypatch: pytest.MonkeyPatch) -> None:
    for field in POSITIVE_FIELDS:
        monkeypatch.delenv(f"AGORA_{field.upper()}", raising=False)

    settings = OrderingSettings()

    assert settings.service_name == "ordering"
    assert settings.saga_timeouts == SagaTimeouts(
        stock=dt.timedelta(seconds=30), payment=dt.timedelta(minutes=15)
    )
    assert (settings.deadline_poll_seconds, settings.deadline_batch) == (1.0, 100)


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_STOCK_TIMEOUT_SECONDS", "45")
    monkeypatch.setenv("AGORA_PAYMENT_TIMEOUT_SECONDS", "600.5")
    monkeypatch.setenv("AGORA_DEADLINE_POLL_SECONDS", "0.25")
    monkeypatch.setenv("AGORA_DEADLINE_BATCH", "7")
    monkeypatch.setenv("AGORA_CATALOG_GRPC_TARGET", "catalog.internal:9103")
    monkeypatch.setenv("AGORA_BASKET_GRPC_TARGET", "basket.internal:9104")

    settings = OrderingSettings()

    assert (settings.stock_timeout_seconds, settings.payment_timeout_seconds) == (45.0, 600.5)
    assert (settings.deadline_poll_seconds, settings.deadline_batch) == (0.25, 7)
    assert settings.catalog_grpc_target == "catalog.internal:9103"
    assert settings.basket_grpc_target == "basket.internal:9104"


def test_saga_timeouts_are_the_settings_as_time_spans() -> None:
    settings = OrderingSettings(stock_timeout_seconds=0.5, payment_timeout_seconds=90)

    timeouts = settings.saga_timeouts

    assert timeouts.stock == dt.timedelta(milliseconds=500)
    assert timeouts.payment == dt.timedelta(minutes=1, seconds=30)


@pytest.mark.parametrize("field", POSITIVE_FIELDS)
@pytest.mark.parametrize("value", [0, -1])
def test_settings_refuse_a_timeout_or_batch_that_is_not_positive(field: str, value: int) -> None:
    with pytest.raises(ValidationError, match=field):
        OrderingSettings(**{field: value})


def test_settings_refuse_a_timeout_from_the_environment_that_is_not_positive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGORA_PAYMENT_TIMEOUT_SECONDS", "0")

    with pytest.raises(ValidationError, match="payment_timeout_seconds"):
        OrderingSettings()
