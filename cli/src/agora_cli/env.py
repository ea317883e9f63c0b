"""The environment each service process gets (its settings read the ``AGORA_`` prefix)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from agora_cli.config import StackConfig
from agora_cli.infra.ports import LOOPBACK
from agora_cli.service_clients import client_env
from agora_cli.services import IDENTITY, ServiceSpec, find_service

SOURCE_DIR = Path(__file__).resolve().parent
DEV_ADMIN_EMAIL = "admin@agora.local"
DEV_ADMIN_PASSWORD = "Admin123!"  # noqa: S105 - documented development login, refused in production


@cache
def build_info(source_dir: Path = SOURCE_DIR) -> dict[str, str]:
    """The checked-out commit and its time, which ``/health/ready`` reports.

    Args:
        source_dir: A directory inside the git checkout.

    Returns:
        ``AGORA_COMMIT`` and ``AGORA_BUILD_TIME``, or nothing outside a git checkout.
    """
    git = shutil.which("git")
    if git is None:
        return {}
    result = subprocess.run(  # noqa: S603 - fixed argv
        [git, "-C", str(source_dir), "log", "-1", "--format=%h %cI"],
        capture_output=True,
        text=True,
        check=False,
    )
    fields = result.stdout.split()
    if result.returncode != 0 or len(fields) != 2:  # noqa: PLR2004 - "<hash> <time>"
        return {}
    return {"AGORA_COMMIT": fields[0], "AGORA_BUILD_TIME": fields[1]}


def service_port(config: StackConfig, spec: ServiceSpec) -> int:
    """The loopback port of ``spec`` in this stack."""
    return config.ports.service_base + spec.port_offset


def grpc_port(config: StackConfig, spec: ServiceSpec) -> int:
    """The loopback gRPC port of ``spec`` in this stack (services with ``grpc`` set)."""
    return config.ports.grpc_base + spec.port_offset


GATEWAY_PROXIES = f"{LOOPBACK}/32"
"""Where the stack's gateway connects to the services from."""


def service_env(
    config: StackConfig, spec: ServiceSpec, database_url: str | None, base: Mapping[str, str]
) -> dict[str, str]:
    """Build the environment of one service process.

    ``base`` (the user's environment) is passed through, so any ``AGORA_*`` the user set reaches
    the service; the wiring of the stack (URLs, ports, directories) always wins over it. In
    development the admin login gets a default unless the user set one; in production nothing is
    defaulted, so a service refuses to start when a required secret is missing.

    Args:
        config: The stack configuration.
        spec: The service.
        database_url: URL from ``EmbeddedPostgres.ensure_database``; ``None`` for a service
            without a database (no ``AGORA_DATABASE_URL`` is set).
        base: Environment to start from (usually ``os.environ``).

    Returns:
        The complete environment.
    """
    env = dict(base)
    env.update(_stack_wiring(config, spec))
    if database_url is not None:
        env["AGORA_DATABASE_URL"] = database_url
    for name, value in build_info().items():
        env.setdefault(name, value)  # a release build sets its own
    _trust_the_gateway(env)
    if spec.grpc:
        env["AGORA_GRPC_PORT"] = str(grpc_port(config, spec))
    env.update(grpc_target_env(config, spec))
    env.update(http_target_env(config, spec))
    if spec.has_signing_keys:
        env["AGORA_JWT_KEYS_DIR"] = str(config.data_dir / "keys" / spec.name)
    env.update(client_env(config, spec))
    if spec.seeds_admin and config.profile == "development":
        env.setdefault("AGORA_ADMIN_EMAIL", DEV_ADMIN_EMAIL)
        env.setdefault("AGORA_ADMIN_PASSWORD", DEV_ADMIN_PASSWORD)
    return env


def _stack_wiring(config: StackConfig, spec: ServiceSpec) -> dict[str, str]:
    """Where the service listens and logs, and where the stack's servers are."""
    identity_port = service_port(config, IDENTITY)
    return {
        "AGORA_SERVICE_NAME": spec.name,
        "AGORA_ENVIRONMENT": config.profile,
        "AGORA_PORT": str(service_port(config, spec)),
        "AGORA_REDIS_URL": f"redis://{LOOPBACK}:{config.ports.redis}/{spec.redis_db}",
        "AGORA_BROKER_URL": f"nats://{LOOPBACK}:{config.ports.nats}",
        "AGORA_JWKS_URL": f"http://{LOOPBACK}:{identity_port}/.well-known/jwks.json",
        "AGORA_LOG_DIR": str(config.log_dir / spec.name),
        "AGORA_SMTP_HOST": LOOPBACK,
        "AGORA_SMTP_PORT": str(config.ports.smtp),
        "AGORA_PAYSIM_URL": f"http://{LOOPBACK}:{config.ports.paysim}",
    }


def grpc_target_env(config: StackConfig, spec: ServiceSpec) -> dict[str, str]:
    """``AGORA_<NAME>_GRPC_TARGET`` for each service whose gRPC ``spec`` calls.

    Args:
        config: The stack configuration.
        spec: The calling service.

    Returns:
        One variable per called service, ``127.0.0.1:<its gRPC port>``.
    """
    targets = {}
    for name in spec.grpc_targets:
        called = find_service(name)
        if called is None or not called.grpc:
            raise ValueError(f"{spec.name} calls {name}, which serves no gRPC")
        targets[f"AGORA_{name.upper()}_GRPC_TARGET"] = f"{LOOPBACK}:{grpc_port(config, called)}"
    return targets


def http_target_env(config: StackConfig, spec: ServiceSpec) -> dict[str, str]:
    """``AGORA_<NAME>_URL`` for each service whose REST API ``spec`` calls directly.

    In development a caller also gets ``AGORA_MAIL_URL``, the mail sink's web view on the
    gateway's loopback operator entrypoint (the storefront's operator pages link it; production
    serves no mail view, ADR 0009).

    Args:
        config: The stack configuration.
        spec: The calling service.

    Returns:
        One variable per called service, ``http://127.0.0.1:<its port>``.
    """
    targets = {}
    for name in spec.http_targets:
        called = find_service(name)
        if called is None:
            raise ValueError(f"{spec.name} calls {name}, which is no service")
        targets[f"AGORA_{name.upper()}_URL"] = f"http://{LOOPBACK}:{service_port(config, called)}"
    if targets and config.profile == "development":
        targets["AGORA_MAIL_URL"] = f"http://{LOOPBACK}:{config.ports.gateway_admin}/mail"
    return targets


def _trust_the_gateway(env: dict[str, str]) -> None:
    """Believe the gateway's ``X-Forwarded-For``, in the services and in uvicorn alike.

    The gateway reaches every service from loopback: its X-Forwarded-For names the client. A
    user's own list (more proxies in front) replaces it. uvicorn rewrites the client address and
    scheme from the same headers for the proxies in ``FORWARDED_ALLOW_IPS`` (default: loopback,
    whatever the setting says), so it gets the same list: one decision (ADR 0011).
    """
    env.setdefault("AGORA_TRUSTED_PROXIES", GATEWAY_PROXIES)
    env["FORWARDED_ALLOW_IPS"] = env["AGORA_TRUSTED_PROXIES"]
