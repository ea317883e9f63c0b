"""Settings come from the environment; production refuses development defaults."""

import pytest
from pydantic import ValidationError

from agora_chassis.ids import new_id
from agora_chassis.settings import ServiceSettings

SAFE_URL = "postgresql+asyncpg://svc:from-a-vault@db:5432/svc"


def test_settings_read_agora_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_SERVICE_NAME", "catalog")
    monkeypatch.setenv("AGORA_CORS_ORIGINS", '["https://shop.example"]')
    settings = ServiceSettings()
    assert settings.service_name == "catalog"
    assert settings.cors_origins == ["https://shop.example"]


def test_settings_empty_variable_means_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_LOG_DIR", "")
    assert ServiceSettings().log_dir is None


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({}, "AGORA_DATABASE_URL"),
        ({"database_url": SAFE_URL, "cors_origins": ["*"]}, "AGORA_CORS_ORIGINS"),
        ({"database_url": SAFE_URL, "debug": True}, "AGORA_DEBUG"),
    ],
)
def test_settings_production_refuses_each_default(overrides: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        ServiceSettings.model_validate({"environment": "production"} | overrides)


def test_settings_production_with_real_secrets_is_accepted() -> None:
    assert ServiceSettings(environment="production", database_url=SAFE_URL).debug is False


def test_new_id_is_time_ordered_uuid7() -> None:
    first, second = new_id(), new_id()
    assert first.version == 7
    assert first < second


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://identity:8101/api/v1/auth/service-token", True),
        ("https://identity/api/v1/auth/service-token", False),
        ("http://127.0.0.1:8101/api/v1/auth/service-token", False),
        ("http://localhost:8101/api/v1/auth/service-token", False),
    ],
)
def test_settings_production_refuses_client_secret_over_cleartext(url: str, refused: bool) -> None:
    values = {
        "environment": "production",
        "database_url": SAFE_URL,
        "service_client_id": "basket",
        "service_client_secret": "s" * 40,
        "service_token_url": url,
    }
    if refused:
        with pytest.raises(ValidationError, match="AGORA_SERVICE_TOKEN_URL"):
            ServiceSettings.model_validate(values)
    else:
        assert ServiceSettings.model_validate(values).service_client_id == "basket"
