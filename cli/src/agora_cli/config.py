"""Stack configuration: data directory layout, ports and profile, from the environment."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agora_cli.infra.ports import check_port_allowed

PROFILES = ("development", "production")

# Environment variable -> (Ports field, default). The defaults avoid every standard server port so
# the stack runs beside a system PostgreSQL, Redis, NATS or RabbitMQ, and stay below Linux's
# ephemeral range (32768-60999): a port in that range can be held for a minute by the TIME_WAIT of
# any outgoing connection that happened to get it, which made `agora up` right after `down` fail.
PORT_VARIABLES: dict[str, tuple[str, int]] = {
    "AGORA_GATEWAY_PORT": ("gateway", 8080),
    # The loopback operator entrypoint: ping, dashboard, /<svc>/metrics..., /mail (ADR 0009).
    "AGORA_GATEWAY_ADMIN_PORT": ("gateway_admin", 18080),
    "AGORA_GATEWAY_ERRORS_PORT": ("gateway_errors", 18081),
    "AGORA_POSTGRES_PORT": ("postgres", 15432),
    "AGORA_REDIS_PORT": ("redis", 16380),
    "AGORA_NATS_PORT": ("nats", 14222),
    "AGORA_NATS_MONITOR_PORT": ("nats_monitor", 18222),
    "AGORA_SMTP_PORT": ("smtp", 11025),
    "AGORA_MAIL_HTTP_PORT": ("mail_http", 18025),
    # The payment provider simulator (ADR 0022): its /v1 API, /health and (development) /admin.
    "AGORA_PAYSIM_PORT": ("paysim", 18090),
    "AGORA_SERVICE_PORT_BASE": ("service_base", 8101),
    "AGORA_GRPC_PORT_BASE": ("grpc_base", 9101),
}
BLOCK_PORT_VARIABLES = ("AGORA_SERVICE_PORT_BASE", "AGORA_GRPC_PORT_BASE")
"""Bases of a block of ports, one per service (base + the service's offset)."""


@dataclass(frozen=True)
class Ports:
    """Every loopback port of the embedded stack."""

    gateway: int = 8080
    gateway_admin: int = 18080
    gateway_errors: int = 18081
    postgres: int = 15432
    redis: int = 16380
    nats: int = 14222
    nats_monitor: int = 18222
    smtp: int = 11025
    mail_http: int = 18025
    paysim: int = 18090
    service_base: int = 8101
    grpc_base: int = 9101


@dataclass(frozen=True)
class StackConfig:
    """What ``agora up`` boots and where it keeps its files.

    Attributes:
        data_dir: Root of everything the stack writes (data, logs, pid files, secrets).
        ports: The loopback ports.
        profile: ``development`` or ``production``.
        infra_only: Boot PostgreSQL, Valkey, NATS, the mail sink, the payment simulator and the
            gateway but no service.
    """

    data_dir: Path
    ports: Ports = field(default_factory=Ports)
    profile: str = "development"
    infra_only: bool = False

    @property
    def log_dir(self) -> Path:
        """Directory of the process logs (``<name>.log``)."""
        return self.data_dir / "logs"

    @property
    def run_dir(self) -> Path:
        """Directory of the pid files and the saved stack configuration."""
        return self.data_dir / "run"

    def log_file(self, name: str) -> Path:
        """The stdout/stderr log of process ``name``."""
        return self.log_dir / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        """The pid file of process ``name``."""
        return self.run_dir / f"{name}.pid"


def repo_root() -> Path:
    """The workspace root: found from this package's location, else the current directory."""
    candidate = Path(__file__).resolve().parents[3]
    marker = candidate / "pyproject.toml"
    if marker.exists() and "[tool.uv.workspace]" in marker.read_text(encoding="utf-8"):
        return candidate
    return Path.cwd()


def ports_from_env(env: Mapping[str, str]) -> Ports:
    """Read the ports from ``AGORA_*_PORT`` variables, refusing invalid or standard ports.

    Raises:
        ValueError: Naming the variable when a value is not an allowed port.
    """
    values: dict[str, int] = {}
    for variable, (name, default) in PORT_VARIABLES.items():
        raw = env.get(variable, "").strip()
        try:
            port = int(raw) if raw else default
        except ValueError:
            raise ValueError(f"{variable}={raw!r} is not a port number") from None
        check_port_allowed(variable, port)
        values[name] = port
    if len(set(values.values())) != len(values):
        raise ValueError(f"the stack ports must all differ, got {values}")
    return Ports(**values)


def data_dir_from(arg: str | None, env: Mapping[str, str]) -> Path:
    """``--data-dir``, else ``AGORA_DATA_DIR``, else ``.agora`` under the repository root."""
    chosen = arg or env.get("AGORA_DATA_DIR") or str(repo_root() / ".agora")
    return Path(chosen).expanduser().resolve()


def config_file(data_dir: Path) -> Path:
    """Where the configuration of the running stack is saved."""
    return data_dir / "run" / "stack.json"


def save_config(config: StackConfig) -> None:
    """Save ``config`` so later commands (status, stop, start) use the same ports and profile."""
    path = config_file(config.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "ports": asdict(config.ports),
        "profile": config.profile,
        "infra_only": config.infra_only,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def load_config(data_dir: Path) -> StackConfig | None:
    """Load the configuration saved by the last ``agora up`` in ``data_dir``, if any."""
    try:
        payload = json.loads(config_file(data_dir).read_text(encoding="utf-8"))
        return StackConfig(
            data_dir=data_dir,
            ports=Ports(**payload["ports"]),
            profile=str(payload["profile"]),
            infra_only=bool(payload.get("infra_only", False)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def resolve_config(data_dir_arg: str | None, env: Mapping[str, str] | None = None) -> StackConfig:
    """The saved configuration of ``data_dir`` if there is one, else one from the environment."""
    env = os.environ if env is None else env
    data_dir = data_dir_from(data_dir_arg, env)
    return load_config(data_dir) or StackConfig(data_dir=data_dir, ports=ports_from_env(env))


class StackBusyError(RuntimeError):
    """Another ``agora`` command is changing the same stack right now."""


@contextmanager
def stack_lock(data_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``data_dir`` while processes are started or stopped.

    Two concurrent ``agora up`` on one data dir would otherwise both see a port free and race.

    Raises:
        StackBusyError: When another command holds the lock.
    """
    lock_file = data_dir / "run" / "agora.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StackBusyError(
                f"another agora command is starting or stopping the stack in {data_dir}"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
