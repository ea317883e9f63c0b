"""Service clients of the stack: who may ask identity for service tokens, with which scopes.

Each service that calls another over gRPC has ``service_scopes`` in the registry; the CLI itself
(``agora`` tools, benchmarks, system tests) is the client :data:`OPERATOR_CLIENT`. Their secrets
are generated once per data directory (``secrets.json``, mode 0600, never printed): a caller gets
its own secret in ``AGORA_SERVICE_CLIENT_SECRET``, identity gets only SHA-256 digests in
``AGORA_SERVICE_CLIENTS``. No secret has a default, so no profile runs with a known one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from agora_cli.config import StackConfig
from agora_cli.infra.ports import LOOPBACK
from agora_cli.secrets_store import get_or_create_secret
from agora_cli.services import IDENTITY, SERVICES, ServiceSpec

OPERATOR_CLIENT = "agora"
OPERATOR_SCOPES = ("catalog:read",)
"""What the CLI's own tools may do over internal gRPC: read the catalog, nothing that writes."""
TOKEN_PATH = "/api/v1/auth/service-token"  # noqa: S105 - a URL path, not a secret


def client_scopes() -> dict[str, tuple[str, ...]]:
    """Every client of the stack and its scopes."""
    clients = {spec.name: spec.service_scopes for spec in SERVICES if spec.service_scopes}
    return clients | {OPERATOR_CLIENT: OPERATOR_SCOPES}


def client_secret(data_dir: Path, client_id: str) -> str:
    """The secret of ``client_id`` in this data directory (generated the first time)."""
    return get_or_create_secret(data_dir, f"service-clients/{client_id}")


def token_url(config: StackConfig) -> str:
    """Identity's client-credentials endpoint, straight on identity's port (not the gateway)."""
    return f"http://{LOOPBACK}:{config.ports.service_base + IDENTITY.port_offset}{TOKEN_PATH}"


def identity_clients(data_dir: Path) -> str:
    """``AGORA_SERVICE_CLIENTS`` for identity: each client's secret digest and scopes (JSON)."""
    registry = {
        client_id: {
            "secret_sha256": [
                hashlib.sha256(client_secret(data_dir, client_id).encode()).hexdigest()
            ],
            "scopes": list(scopes),
        }
        for client_id, scopes in client_scopes().items()
    }
    return json.dumps(registry, sort_keys=True)


def client_env(config: StackConfig, spec: ServiceSpec) -> dict[str, str]:
    """The service-client variables of one service process.

    Args:
        config: The stack configuration.
        spec: The service.

    Returns:
        Identity's client registry for identity; the id, secret and token URL for a service
        that calls others; nothing else.
    """
    env: dict[str, str] = {}
    if spec.has_signing_keys:
        env["AGORA_SERVICE_CLIENTS"] = identity_clients(config.data_dir)
    if spec.service_scopes:
        env["AGORA_SERVICE_CLIENT_ID"] = spec.name
        env["AGORA_SERVICE_CLIENT_SECRET"] = client_secret(config.data_dir, spec.name)
        env["AGORA_SERVICE_TOKEN_URL"] = token_url(config)
    return env
