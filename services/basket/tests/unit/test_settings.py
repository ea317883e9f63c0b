"""Basket settings: limits and the production guard on the guest id secret."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from agora_basket.settings import BasketSettings


def test_settings_defaults_match_the_issue() -> None:
    settings = BasketSettings()
    assert settings.basket_ttl_seconds == 30 * 24 * 3600
    assert (settings.max_quantity, settings.max_lines) == (99, 100)


def test_settings_more_lines_than_one_catalog_batch_refused() -> None:
    with pytest.raises(ValidationError):
        BasketSettings(max_lines=101)


def test_settings_production_with_default_guest_secret_refused() -> None:
    with pytest.raises(ValidationError, match="AGORA_GUEST_SECRET"):
        BasketSettings(environment="production")


def test_settings_production_with_default_database_password_refused() -> None:
    with pytest.raises(ValidationError, match="AGORA_DATABASE_URL"):
        BasketSettings(
            environment="production",
            guest_secret=SecretStr("s3cret-from-env"),
            guest_cookie_secure=True,
            jwks_url="https://identity.example/.well-known/jwks.json",
        )


def test_settings_production_ready_once_secrets_and_cookie_set() -> None:
    settings = BasketSettings(
        environment="production",
        database_url="postgresql+asyncpg://basket:from-env@db.internal/basket",
        guest_secret=SecretStr("s3cret-from-env"),
        guest_cookie_secure=True,
        jwks_url="https://identity.example/.well-known/jwks.json",
    )
    assert settings.insecure_defaults() == []
