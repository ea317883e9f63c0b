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
        (
            {"database_url": SAFE_URL, "jwks_url": "http://identity:8000/.well-known/jwks.json"},
            "AGORA_JWKS_URL",
        ),
        ({"database_url": SAFE_URL, "jwks_url": "ftp://127.0.0.1/jwks.json"}, "AGORA_JWKS_URL"),
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


@pytest.mark.parametrize(
    "jwks_url",
    [
        "https://identity.shop.example/.well-known/jwks.json",
        "http://127.0.0.1:8101/.well-known/jwks.json",
        "http://localhost:8101/.well-known/jwks.json",
        "http://[::1]:8101/.well-known/jwks.json",
    ],
)
def test_settings_production_accepts_https_or_loopback_jwks_url(jwks_url: str) -> None:
    settings = ServiceSettings(environment="production", database_url=SAFE_URL, jwks_url=jwks_url)

    assert settings.jwks_url == jwks_url


def test_settings_development_accepts_plain_http_jwks_url() -> None:
    url = "http://identity:8000/.well-known/jwks.json"

    assert ServiceSettings(environment="development", jwks_url=url).jwks_url == url
