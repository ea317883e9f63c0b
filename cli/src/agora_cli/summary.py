"""What ``agora up`` and ``agora status`` print: the URL table and the process table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agora_cli.config import StackConfig
from agora_cli.env import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD, grpc_port, service_port
from agora_cli.infra.ports import LOOPBACK
from agora_cli.secrets_store import secrets_file
from agora_cli.services import SERVICES
from agora_cli.stack import Component, component_ports
from agora_cli.ui import format_table
from agora_cli.usage import format_mib, tree_memory


def url_rows(config: StackConfig, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """The ``what / where`` rows printed once the stack is up; no password ever appears.

    Args:
        config: The stack configuration.
        env: The user's environment (to tell whether the admin login was overridden).
    """
    ports = config.ports
    gateway = f"http://{LOOPBACK}:{ports.gateway}"
    operator = operator_url(config)
    rows = [("gateway", gateway), ("operator (loopback)", f"{operator} (health, metrics, admin)")]
    if not config.infra_only:
        for spec in SERVICES:
            rows.append((f"{spec.name} health", f"{operator}/{spec.name}/health/ready"))
            rows.append((f"{spec.name} direct", f"http://{LOOPBACK}:{service_port(config, spec)}"))
            if spec.grpc:
                rows.append((f"{spec.name} gRPC", f"{LOOPBACK}:{grpc_port(config, spec)}"))
        rows.append(("shop", f"{gateway}/ (the storefront; demo data: agora seed)"))
        rows.append(("identity API", f"{gateway}/api/v1/auth"))
        rows.append(("catalog API", f"{gateway}/api/v1/products (demo data: agora seed)"))
        rows.append(("JWKS", f"{gateway}/.well-known/jwks.json"))
    rows += [
        ("traefik dashboard", f"{operator}/dashboard/"),
        ("postgresql", f"postgresql://{LOOPBACK}:{ports.postgres} (passwords in secrets.json)"),
        ("redis (valkey)", f"redis://{LOOPBACK}:{ports.redis}"),
        ("nats", f"nats://{LOOPBACK}:{ports.nats} (monitoring :{ports.nats_monitor})"),
    ]
    if config.profile == "development":  # production has no mail web view (ADR 0009)
        rows.append(("mail", f"{operator}/mail"))
    paysim = f"http://{LOOPBACK}:{ports.paysim}"
    rows.append(("payment simulator", f"{paysim}/v1 (tokens also at {gateway}/v1/tokens)"))
    if config.profile == "development":
        rows.append(("payment ledger", f"{paysim}/admin"))
    rows += [
        ("smtp", f"smtp://{LOOPBACK}:{ports.smtp}"),
        ("data dir", str(config.data_dir)),
        ("logs", str(config.log_dir)),
        ("secrets", str(secrets_file(config.data_dir))),
    ]
    if config.profile == "development" and not config.infra_only:
        rows.append(("admin login", admin_login(env)))
    return rows


def operator_url(config: StackConfig) -> str:
    """The gateway's loopback operator entrypoint: ``/<svc>/health/ready``, ``/<svc>/metrics``,
    ``/<svc>/api/v1/admin/...``, the dashboard and (development) ``/mail``."""
    return f"http://{LOOPBACK}:{config.ports.gateway_admin}"


def admin_login(env: Mapping[str, str]) -> str:
    """The development admin login; a password the user chose themselves is not echoed."""
    email = env.get("AGORA_ADMIN_EMAIL", DEV_ADMIN_EMAIL)
    if "AGORA_ADMIN_PASSWORD" in env:
        return f"{email} / (your AGORA_ADMIN_PASSWORD)"
    return f"{email} / {DEV_ADMIN_PASSWORD}"


def urls_table(config: StackConfig, env: Mapping[str, str]) -> str:
    """The URL table of :func:`url_rows`, formatted."""
    return format_table(("what", "where"), url_rows(config, env))


def status_row(
    component: Component, memory: tuple[int, bool] | None
) -> tuple[str, str, str, str, str, str]:
    """One row of ``agora status``: name, state, pid, ports, health, memory.

    Args:
        component: The component.
        memory: What :func:`agora_cli.usage.tree_memory` measured for it.
    """
    pid = component.pid
    ports = "/".join(str(port) for port in component_ports(component))
    if pid is None:
        return (component.name, "down", "-", ports, "-", "-")
    health = "ok" if component.healthy() else "failing"
    return (component.name, "up", str(pid), ports, health, _memory_cell(memory))


def _memory_cell(memory: tuple[int, bool] | None) -> str:
    """``95.2 MiB`` (PSS), ``95.2 MiB rss`` when only the resident size could be read."""
    if memory is None:
        return "-"
    size, is_pss = memory
    return format_mib(size) + ("" if is_pss else " rss")


def status_table(components: Sequence[Component]) -> str:
    """The ``agora status`` table, with the memory of every running component and the total.

    Memory is the PSS of the component's process tree (PostgreSQL's backends included), see
    :mod:`agora_cli.usage`.
    """
    measured = [tree_memory(component.pid) for component in components]
    rows = [status_row(c, memory) for c, memory in zip(components, measured, strict=True)]
    sizes = [memory for memory in measured if memory is not None]
    total = (sum(size for size, _ in sizes), all(is_pss for _, is_pss in sizes))
    rows.append(("total", "", "", "", "", _memory_cell(total) if sizes else "-"))
    return format_table(("component", "state", "pid", "port", "health", "memory"), rows)
