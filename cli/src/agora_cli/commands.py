"""The ``agora`` subcommands as plain functions taking parsed arguments and returning exit codes."""

from __future__ import annotations

import argparse
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import replace
from types import FrameType

from agora_cli.config import (
    StackConfig,
    data_dir_from,
    load_config,
    ports_from_env,
    resolve_config,
    save_config,
    stack_lock,
)
from agora_cli.infra.ports import LOOPBACK
from agora_cli.stack import (
    Component,
    StartError,
    build_components,
    component_needs,
    find_component,
    port_conflicts,
    start_components,
    stop_components,
)
from agora_cli.summary import operator_url, status_table, urls_table
from agora_cli.ui import say, step, warn

WATCH_INTERVAL_SECONDS = 1.0
EXIT_INTERRUPTED = 130


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into KeyboardInterrupt so both stop the foreground stack the same way."""
    raise KeyboardInterrupt


def _config_for_up(args: argparse.Namespace) -> tuple[StackConfig, bool]:
    """The saved configuration while a stack runs, else a new one from the arguments and env.

    A running ``--infra-only`` stack gets its services when ``up`` is called without the flag;
    ports and profile of a running stack never change under it.

    Returns:
        The configuration and whether some component of it already runs.
    """
    data_dir = data_dir_from(args.data_dir, os.environ)
    saved = load_config(data_dir)
    if saved is not None and any(c.is_running() for c in build_components(saved)):
        if saved.profile != args.profile:
            warn(f"agora: the running stack uses the {saved.profile} profile; keeping it")
        return replace(saved, infra_only=saved.infra_only and args.infra_only), True
    config = StackConfig(
        data_dir=data_dir,
        ports=ports_from_env(os.environ),
        profile=args.profile,
        infra_only=args.infra_only,
    )
    return config, False


def cmd_up(args: argparse.Namespace) -> int:
    """Boot the stack; stay attached (Ctrl-C stops it) unless ``--detach``."""
    data_dir = data_dir_from(args.data_dir, os.environ)
    with stack_lock(data_dir):
        config, components, code = _boot(args)
    if code is not None:
        return code
    say()
    say(urls_table(config, os.environ))
    if args.detach:
        return 0
    say("\nattached: Ctrl-C stops everything (use `agora up -d` to run in the background)")
    return _stay_attached(components)


def _boot(args: argparse.Namespace) -> tuple[StackConfig, list[Component], int | None]:
    """Start whatever is not running yet.

    Returns:
        The configuration, its components, and an exit code when ``up`` must end here.
    """
    config, already = _config_for_up(args)
    components = build_components(config, with_services=not config.infra_only)
    if already and all(c.is_running() for c in components):
        say(f"agora is already running (data dir {config.data_dir}); see `agora status`")
        return config, components, 0
    conflicts = port_conflicts(components)
    if conflicts:
        warn("agora: cannot start, ports are taken:\n  " + "\n  ".join(conflicts))
        warn("set AGORA_*_PORT variables to free ports (see `agora up --help`)")
        return config, components, 1
    config.data_dir.mkdir(parents=True, exist_ok=True)
    save_config(config)
    # Installed explicitly: a shell starting `agora up &` makes it inherit SIGINT ignored.
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        start_components(components)
    except StartError as error:
        warn(f"agora: {error}")
        return config, components, 1
    except KeyboardInterrupt:
        warn("agora: interrupted, stopped what had started")
        return config, components, EXIT_INTERRUPTED
    return config, components, None


def _stay_attached(components: Sequence[Component]) -> int:
    """Watch the components until SIGINT/SIGTERM, then stop them all in reverse order."""
    reported: set[str] = set()
    try:
        while True:
            time.sleep(WATCH_INTERVAL_SECONDS)
            for component in components:
                if component.name not in reported and not component.is_running():
                    warn(f"agora: {component.name} exited; see `agora logs {component.name}`")
                    reported.add(component.name)
            if len(reported) == len(components):
                say("everything has stopped (`agora down` elsewhere?); detaching")
                return 0
    except KeyboardInterrupt:
        say("\nstopping ...")
        # A second Ctrl-C must not abandon half-stopped processes.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_components(components)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    """Stop every component in reverse start order; return once their processes and ports are gone.

    Exits 1, naming them, when some component is still running or holding a port.
    """
    config = resolve_config(args.data_dir)
    with stack_lock(config.data_dir):
        components = build_components(config)
        running = [c.name for c in components if c.is_running()]
        stopped = stop_components(components)
    say(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    left = [name for name in running if name not in stopped]
    if left:
        warn(f"agora: not everything was released: {', '.join(left)} (see above)")
        return 1
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print each component's state, pid, port and health."""
    config = resolve_config(args.data_dir)
    say(status_table(build_components(config)))
    say(f"\ndata dir: {config.data_dir}  profile: {config.profile}")
    say(f"gateway: http://{LOOPBACK}:{config.ports.gateway}  operator: {operator_url(config)}")
    return 0


def _component_or_error(args: argparse.Namespace) -> tuple[StackConfig, Component | None]:
    config = resolve_config(args.data_dir)
    component = find_component(build_components(config), args.name)
    if component is None:
        names = ", ".join(c.name for c in build_components(config))
        warn(f"agora: unknown component {args.name!r}; choose one of: {names}")
    return config, component


def cmd_start(args: argparse.Namespace) -> int:
    """Start one component (what it needs must run already)."""
    config, component = _component_or_error(args)
    if component is None:
        return 2
    if component.is_running():
        say(f"{component.name} is already running (pid {component.pid})")
        return 0
    components = build_components(config)
    missing = [
        need
        for need in component_needs(component)
        if (needed := find_component(components, need)) is not None and not needed.is_running()
    ]
    if missing:
        needs = ", ".join(missing)
        warn(f"agora: {component.name} needs {needs}; run `agora up` or `agora start <name>`")
        return 1
    try:
        with stack_lock(config.data_dir), step(f"starting {component.name}"):
            component.start()
    except Exception as error:  # noqa: BLE001 - every failure is reported the same way
        warn(f"agora: {component.name} failed to start: {error}")
        return 1
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop one component."""
    config, component = _component_or_error(args)
    if component is None:
        return 2
    if not component.is_running():
        say(f"{component.name} is not running")
        return 0
    with stack_lock(config.data_dir):
        stopped = stop_components([component])
    return 0 if stopped else 1


def cmd_restart(args: argparse.Namespace) -> int:
    """Stop then start one component."""
    code = cmd_stop(args)
    return code if code != 0 else cmd_start(args)
