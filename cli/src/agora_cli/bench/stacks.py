"""A stack for the HTTP benchmarks: booted privately for the run, or given by URL.

Without ``--gateway-url``/``--direct-url`` a benchmark boots a private stack (``agora up --detach``
in a scratch data directory on free ports, the API rate limit raised), seeds it with ``agora seed``
when the measured service (or the one whose data it reads: catalog's for basket) has demo data, and
always runs ``agora down`` and deletes the directory afterwards; the pid files of its data
directory name the processes whose CPU time is read. A stack given by URL is measured without CPU
times: its processes are unknown.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agora_cli.bench.servers import progress, stage
from agora_cli.services import CATALOG, ServiceSpec

RATE_LIMIT = "10000000/minute"
# The catalog keeps what it read from Redis this long in each process (its near cache): a cold
# run waits it out after flushing Redis, so it really starts cold.
NEAR_CACHE_SECONDS = 1.0
COMMAND_TIMEOUT_SECONDS = 900.0
OUTPUT_TAIL_LINES = 30
SCRATCH_MODE = 0o755  # PostgreSQL runs as nobody when the CLI runs as root
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class BenchmarkError(RuntimeError):
    """The stack could not be booted, seeded or read."""


@dataclass(frozen=True)
class Target:
    """The stack under measurement: gateway, the measured service's own port, its Redis db.

    ``pids`` are its serving processes by role (the services' names, ``gateway``), when known;
    ``data_dir`` is a private stack's data directory (its ports, pid files and passwords).
    """

    gateway_url: str
    direct_url: str
    redis_url: str | None
    origin: str
    pids: Mapping[str, int] = field(default_factory=dict)
    data_dir: Path | None = None


def stack_env(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` without ``AGORA_*``, plus distinct free ports and a rate limit out of the way."""
    from agora_cli.config import BLOCK_PORT_VARIABLES, PORT_VARIABLES
    from agora_cli.infra.ports import free_ports
    from agora_cli.services import SERVICES

    env = {name: value for name, value in base.items() if not name.startswith("AGORA_")}
    variables = list(PORT_VARIABLES)
    counts = [len(SERVICES) if name in BLOCK_PORT_VARIABLES else 1 for name in variables]
    env.update(zip(variables, map(str, free_ports(counts)), strict=True))
    env["AGORA_RATE_LIMIT"] = RATE_LIMIT
    env["AGORA_LOCAL_CACHE_SECONDS"] = str(NEAR_CACHE_SECONDS)
    return env


def stack_target(
    env: Mapping[str, str],
    pids: Mapping[str, int] | None = None,
    service: ServiceSpec = CATALOG,
    data_dir: Path | None = None,
) -> Target:
    """Where the stack that ``env``'s ports describe serves ``service``, and its Redis db.

    Args:
        env: The stack's environment (its ``AGORA_*_PORT`` variables).
        pids: Its serving processes by role, when known (:func:`stack_pids`).
        service: The service measured directly.
        data_dir: The stack's data directory, when the benchmark booted it.
    """
    from agora_cli.config import ports_from_env
    from agora_cli.infra.ports import LOOPBACK

    ports = ports_from_env(env)
    return Target(
        gateway_url=f"http://{LOOPBACK}:{ports.gateway}",
        direct_url=f"http://{LOOPBACK}:{ports.service_base + service.port_offset}",
        redis_url=f"redis://{LOOPBACK}:{ports.redis}/{service.redis_db}",
        origin="private stack",
        pids=dict(pids or {}),
        data_dir=data_dir,
    )


def stack_pids(
    data_dir: Path, service: ServiceSpec = CATALOG, others: Sequence[ServiceSpec] = ()
) -> dict[str, int]:
    """The live processes of ``service``, ``others`` and the gateway of the stack in ``data_dir``.

    Returns:
        Their pids by role (the services' names, ``gateway``), from the pid files ``agora up``
        wrote; a process that is not running is left out.
    """
    from agora_cli.config import StackConfig
    from agora_cli.infra.gateway import Gateway
    from agora_cli.infra.process import read_process

    config = StackConfig(data_dir=data_dir)
    roles = (service.name, *(other.name for other in others), Gateway.name)
    processes = {role: read_process(config.pid_file(role)) for role in roles}
    return {role: process.pid for role, process in processes.items() if process is not None}


def agora(data_dir: Path, env: Mapping[str, str], *args: str) -> None:
    """Run ``agora ARGS --data-dir DATA_DIR`` (this interpreter's CLI) with ``env``.

    Raises:
        BenchmarkError: With the end of its output when it fails.
    """
    argv = [sys.executable, "-m", "agora_cli.main", *args, "--data-dir", str(data_dir)]
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv: this interpreter running the CLI
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"agora {args[0]} took over {COMMAND_TIMEOUT_SECONDS:.0f}s") from None
    if result.returncode != 0:
        output = (result.stdout + result.stderr).splitlines()[-OUTPUT_TAIL_LINES:]
        raise BenchmarkError(f"agora {args[0]} failed:\n" + "\n".join(output))


def _on_signals(handler: Any) -> dict[int, Any]:
    """Handle SIGINT and SIGTERM with ``handler`` (main thread only); return the previous ones."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}


@contextmanager
def private_stack(
    products: int | None, service: ServiceSpec = CATALOG, data_from: ServiceSpec | None = None
) -> Iterator[Target]:
    """Boot a stack of its own for the block, ``service``'s demo data seeded when it has some
    (``products`` of them); ``agora down`` and cleanup always run.

    ``data_from`` names another service whose demo data ``service`` reads (basket: catalog's
    products): that one is seeded instead, and its process is read too (:func:`stack_pids`).

    Ctrl-C and SIGTERM end the block through its cleanup, also when the benchmark was started in
    the background (where SIGINT comes ignored); a second one cannot interrupt ``agora down``.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="agora-bench-stack-"))
    data_dir.chmod(SCRATCH_MODE)
    env = stack_env(os.environ)
    source = data_from or service
    others = [source] if source != service else []
    seed = ["--service", source.name, *(["--count", str(products)] if products else [])]
    previous = _on_signals(signal.default_int_handler)  # asyncio.run cancels its task on it
    try:
        with stage(f"booting a private stack in {data_dir} (agora up --detach)"):
            agora(data_dir, env, "up", "--detach")
        if source.seed:
            with stage(f"seeding it (agora seed {' '.join(seed)})"):
                agora(data_dir, env, "seed", *seed)
        yield stack_target(env, stack_pids(data_dir, service, others), service, data_dir)
    finally:
        _on_signals(signal.SIG_IGN)
        try:
            with stage("stopping it (agora down)"):
                agora(data_dir, env, "down")
        except BenchmarkError as error:  # never hide why the run ended
            progress(f"agora down failed, stop the stack in {data_dir} by hand: {error}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
