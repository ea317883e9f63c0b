"""Service clients in the stack's environment: identity gets digests, callers get secrets."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from agora_cli.config import StackConfig
from agora_cli.env import service_env
from agora_cli.service_clients import OPERATOR_CLIENT, OPERATOR_SCOPES, client_secret
from agora_cli.services import CATALOG, IDENTITY

DB_URL = "postgresql+asyncpg://x:pw@127.0.0.1:15432/x"
BASKET = dataclasses.replace(CATALOG, name="basket", service_scopes=("catalog:read",))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def test_identity_env_registers_operator_client_by_digest_only(tmp_path: Path) -> None:
    env = service_env(StackConfig(tmp_path), IDENTITY, DB_URL, {})

    clients = json.loads(env["AGORA_SERVICE_CLIENTS"])
    secret = client_secret(tmp_path, OPERATOR_CLIENT)
    assert clients[OPERATOR_CLIENT] == {
        "secret_sha256": [_digest(secret)],
        "scopes": list(OPERATOR_SCOPES),
    }
    assert secret not in json.dumps(env)


def test_calling_service_env_carries_its_client_and_identity_token_url(tmp_path: Path) -> None:
    config = StackConfig(tmp_path, profile="production")

    env = service_env(config, BASKET, DB_URL, {})

    assert env["AGORA_SERVICE_CLIENT_ID"] == "basket"
    assert env["AGORA_SERVICE_TOKEN_URL"] == "http://127.0.0.1:8101/api/v1/auth/service-token"
    assert len(env["AGORA_SERVICE_CLIENT_SECRET"]) >= 32
    assert env["AGORA_SERVICE_CLIENT_SECRET"] == client_secret(tmp_path, "basket")


def test_service_without_scopes_gets_no_client(tmp_path: Path) -> None:
    env = service_env(StackConfig(tmp_path), CATALOG, DB_URL, {})

    assert "AGORA_SERVICE_CLIENT_SECRET" not in env
    assert "AGORA_SERVICE_CLIENTS" not in env


def test_client_secret_is_stable_per_data_dir(tmp_path: Path) -> None:
    first = client_secret(tmp_path, OPERATOR_CLIENT)

    assert client_secret(tmp_path, OPERATOR_CLIENT) == first
    assert client_secret(tmp_path / "other", OPERATOR_CLIENT) != first
