"""``AGORA_SERVICE_CLIENTS``: service clients are configured by secret digest, checked at start."""

import json

import pytest
from pydantic import ValidationError

from agora_identity.services.service_tokens import secret_digest
from agora_identity.settings import IdentitySettings

DIGEST = secret_digest("s" * 40)


def test_service_clients_from_environment_json_are_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients = {"basket": {"secret_sha256": [DIGEST], "scopes": ["catalog:read"]}}
    monkeypatch.setenv("AGORA_SERVICE_CLIENTS", json.dumps(clients))

    settings = IdentitySettings()

    assert settings.service_clients["basket"].scopes == ["catalog:read"]
    assert settings.service_clients["basket"].secret_sha256 == [DIGEST]


@pytest.mark.parametrize(
    "client",
    [
        {"secret_sha256": ["plain-text-secret"], "scopes": ["catalog:read"]},
        {"secret_sha256": [], "scopes": ["catalog:read"]},
        {"secret_sha256": [DIGEST], "scopes": []},
    ],
    ids=["secret-not-a-digest", "no-secret", "no-scope"],
)
def test_service_client_without_digest_or_scope_is_refused(client: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        IdentitySettings.model_validate({"service_clients": {"basket": client}})


def test_service_clients_default_to_none() -> None:
    assert IdentitySettings().service_clients == {}
