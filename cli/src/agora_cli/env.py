"""The environment each service process gets (its settings read the ``AGORA_`` prefix)."""

from __future__ import annotations

from collections.abc import Mapping

from agora_cli.config import StackConfig
from agora_cli.infra.ports import LOOPBACK
from agora_cli.services import IDENTITY, ServiceSpec

DEV_ADMIN_EMAIL = "admin@agora.local"
DEV_ADMIN_PASSWORD = "Admin123!"  # noqa: S105 - documented development login, refused in production


def service_port(config: StackConfig, spec: ServiceSpec) -> int:
    """The loopback port of ``spec`` in this stack."""
    return config.ports.service_base + spec.port_offset


def service_env(
    config: StackConfig, spec: ServiceSpec, database_url: str, base: Mapping[str, str]
) -> dict[str, str]:
    """Build the environment of one service process.

    ``base`` (the user's environment) is passed through, so any ``AGORA_*`` the user set reaches
    the service; the wiring of the stack (URLs, ports, directories) always wins over it. In
    development the admin login gets a default unless the user set one; in production nothing is
    defaulted, so a service refuses to start when a required secret is missing.

    Args:
        config: The stack configuration.
        spec: The service.
        database_url: URL from ``EmbeddedPostgres.ensure_database``.
        base: Environment to start from (usually ``os.environ``).

    Returns:
        The complete environment.
    """
    env = dict(base)
    identity_port = service_port(config, IDENTITY)
    env.update(
        {
            "AGORA_SERVICE_NAME": spec.name,
            "AGORA_ENVIRONMENT": config.profile,
            "AGORA_PORT": str(service_port(config, spec)),
            "AGORA_DATABASE_URL": database_url,
            "AGORA_REDIS_URL": f"redis://{LOOPBACK}:{config.ports.redis}/{spec.redis_db}",
            "AGORA_BROKER_URL": f"nats://{LOOPBACK}:{config.ports.nats}",
            "AGORA_JWKS_URL": f"http://{LOOPBACK}:{identity_port}/.well-known/jwks.json",
            "AGORA_LOG_DIR": str(config.log_dir / spec.name),
        }
    )
    if spec.has_signing_keys:
        env["AGORA_JWT_KEYS_DIR"] = str(config.data_dir / "keys" / spec.name)
    if spec.seeds_admin and config.profile == "development":
        env.setdefault("AGORA_ADMIN_EMAIL", DEV_ADMIN_EMAIL)
        env.setdefault("AGORA_ADMIN_PASSWORD", DEV_ADMIN_PASSWORD)
    return env
