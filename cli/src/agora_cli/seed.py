"""``agora seed``: load each service's demo data into the running stack.

A service offers demo data by naming a module in ``ServiceSpec.seed``; ``agora seed`` runs it as
``python -m <module> [--count N]`` with the environment ``agora up`` gives the service itself
(database URL and password from the data directory, Redis, ...), after bringing the service's
database to the newest migration, so it also works on an ``--infra-only`` stack. The loaders are
idempotent: seeding twice adds nothing. Their progress goes straight to the terminal.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from agora_cli import services
from agora_cli.config import StackConfig, repo_root, resolve_config, stack_lock
from agora_cli.services import ServiceSpec
from agora_cli.ui import say, warn

if TYPE_CHECKING:
    from agora_cli.infra.postgres import EmbeddedPostgres

SEED_TIMEOUT_SECONDS = 900.0


class SeedError(Exception):
    """A failure to report to the user as ``agora: <message>`` (exit status 1)."""


def seed_module(spec: ServiceSpec) -> str | None:
    """The module loading ``spec``'s demo data, if it has one."""
    return spec.seed or None


def seedable_services(name: str | None) -> list[ServiceSpec]:
    """The services ``--service`` selects (every one with demo data by default)."""
    specs = [spec for spec in services.SERVICES if seed_module(spec)]
    if name is None:
        if not specs:
            raise SeedError("no registered service has demo data to load")
        return specs
    spec = services.find_service(name)
    if spec is None or seed_module(spec) is None:
        choices = ", ".join(spec.name for spec in specs) or "none"
        raise SeedError(f"{name!r} has no demo data; choose one of: {choices}")
    return [spec]


def seed_argv(python: str, module: str, count: int | None) -> list[str]:
    """The command line running ``module`` (with ``--count`` when one was asked for)."""
    return [python, "-m", module, *(["--count", str(count)] if count is not None else [])]


def _running_postgres(config: StackConfig) -> EmbeddedPostgres:
    from agora_cli.infra.postgres import EmbeddedPostgres
    from agora_cli.stack import build_components, find_component

    postgres = find_component(build_components(config, with_services=False), "postgres")
    if not isinstance(postgres, EmbeddedPostgres) or not postgres.is_running():
        raise SeedError(
            f"postgres is not running (data dir {config.data_dir}); start the stack with "
            "`agora up` (or `agora up --infra-only`) first"
        )
    return postgres


def _seed_one(
    config: StackConfig, postgres: EmbeddedPostgres, spec: ServiceSpec, count: int | None
) -> None:
    from agora_cli.service_process import ServiceProcess

    module = seed_module(spec)
    assert module is not None  # noqa: S101 - seedable_services only returns these
    process = ServiceProcess(spec, config, postgres, dict(os.environ))
    env = process.environment()  # creates the database if need be, as `agora up` does
    say(f"{spec.name}: migrating its database")
    process.migrate(env)
    say(f"{spec.name}: running {module}")
    try:
        result = subprocess.run(  # noqa: S603 - argv built from the registry
            seed_argv(sys.executable, module, count),
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=repo_root(),
            timeout=SEED_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SeedError(f"{spec.name}: seeding took over {SEED_TIMEOUT_SECONDS:.0f}s") from None
    if result.returncode != 0:
        raise SeedError(f"{spec.name}: seeding failed (exit status {result.returncode})")


def cmd_seed(args: argparse.Namespace) -> int:
    """Load the demo data of every service that has some (or of ``--service``)."""
    from agora_cli.infra.postgres import PostgresError
    from agora_cli.service_process import ServiceError

    try:
        config = resolve_config(args.data_dir)
        postgres = _running_postgres(config)
        specs = seedable_services(args.service)
        with stack_lock(config.data_dir):
            for spec in specs:
                _seed_one(config, postgres, spec, args.count)
    except (SeedError, ServiceError, PostgresError) as exc:
        warn(f"agora: {exc}")
        return 1
    say(f"demo data loaded: {', '.join(spec.name for spec in specs)}")
    return 0


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def add_parser(commands: Any, add_data_dir: Any) -> None:
    """Register ``agora seed`` on the CLI's subparsers."""
    seed = commands.add_parser(
        "seed", help="load demo data (a catalogue of products) into the running stack"
    )
    seed.add_argument("--service", help="only this service (default: every one with demo data)")
    seed.add_argument("--count", type=_count, help="how many records (e.g. products) to load")
    add_data_dir(seed)
