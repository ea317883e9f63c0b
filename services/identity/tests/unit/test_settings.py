"""The production profile refuses development defaults."""

import pytest
from pydantic import ValidationError

from agora_identity.settings import DEV_ADMIN_PASSWORD, IdentitySettings

SAFE_URL = "postgresql+asyncpg://identity:s3cret-from-vault@db:5432/identity"


def test_settings_production_with_default_admin_password_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="AGORA_ADMIN_PASSWORD"):
        IdentitySettings(
            environment="production", database_url=SAFE_URL, admin_password=DEV_ADMIN_PASSWORD
        )


def test_settings_production_with_default_database_password_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="AGORA_DATABASE_URL"):
        IdentitySettings(environment="production")


def test_settings_production_with_own_secrets_starts() -> None:
    settings = IdentitySettings(environment="production", database_url=SAFE_URL)
    assert settings.insecure_defaults() == []


def test_settings_development_keeps_documented_defaults() -> None:
    settings = IdentitySettings(admin_password=DEV_ADMIN_PASSWORD)
    assert "AGORA_ADMIN_PASSWORD (development default)" in settings.insecure_defaults()


def test_settings_registration_limit_defaults_per_profile() -> None:
    development = IdentitySettings(environment="development")
    production = IdentitySettings(environment="production", database_url=SAFE_URL)
    configured = IdentitySettings(registration_rate_limit="5/hour")

    assert development.registration_limit == "60/minute"
    assert production.registration_limit == "20/hour"
    assert configured.registration_limit == "5/hour"


@pytest.mark.parametrize("variable", ["login_limit_per_account", "registration_rate_limit"])
def test_settings_invalid_limit_refuses_to_start(variable: str) -> None:
    with pytest.raises(ValidationError, match=variable):
        IdentitySettings.model_validate({variable: "often"})
