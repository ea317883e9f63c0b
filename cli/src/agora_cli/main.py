"""Entry point of the ``agora`` command: argument parsing and dispatch."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from agora_cli import bench, dlq, proto, screenshots, seed
from agora_cli.config import PORT_VARIABLES, PROFILES

Handler = Callable[[argparse.Namespace], int]

PORTS_HELP = "ports: " + ", ".join(
    f"{variable} (default {default})" for variable, (_name, default) in PORT_VARIABLES.items()
)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", help="stack data directory (default: $AGORA_DATA_DIR or <repo>/.agora)"
    )


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="agora", description="Run the Agora shop locally.", epilog=PORTS_HELP
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = commands.add_parser("up", help="boot the stack", epilog=PORTS_HELP)
    up.add_argument("-d", "--detach", action="store_true", help="return once everything is up")
    up.add_argument("--profile", choices=PROFILES, default="development")
    up.add_argument("--infra-only", action="store_true", help="no services, infrastructure only")
    _add_data_dir(up)
    for name, text in (("down", "stop everything"), ("status", "show every process")):
        _add_data_dir(commands.add_parser(name, help=text))
    logs = commands.add_parser("logs", help="print a component's log")
    logs.add_argument("name", help="postgres, redis, nats, mail, paysim, gateway or a service")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--tail", type=int, default=None, help="only the last N lines")
    _add_data_dir(logs)
    for name in ("start", "stop", "restart"):
        sub = commands.add_parser(name, help=f"{name} one component")
        sub.add_argument("name", help="postgres, redis, nats, mail, paysim, gateway or a service")
        _add_data_dir(sub)
    commands.add_parser("test", help="run the quality gates (arguments are passed on)")
    dlq.add_parser(commands, _add_data_dir)
    asyncapi = commands.add_parser("asyncapi", help="write docs/asyncapi/<service>.yaml from code")
    asyncapi.add_argument("--check", action="store_true", help="only fail when they are stale")
    bench.add_parser(commands)
    proto.add_parser(commands)
    seed.add_parser(commands, _add_data_dir)
    screenshots.add_parser(commands)
    return parser


def _handlers() -> dict[str, Handler]:
    # Imported here so `agora --help` and `agora test` stay fast.
    from agora_cli import asyncapi, commands, logs

    return {
        "up": commands.cmd_up,
        "down": commands.cmd_down,
        "status": commands.cmd_status,
        "logs": logs.cmd_logs,
        "start": commands.cmd_start,
        "stop": commands.cmd_stop,
        "restart": commands.cmd_restart,
        "dlq": dlq.cmd_dlq,
        "asyncapi": asyncapi.cmd_asyncapi,
        "bench": bench.cmd_bench,
        "proto": proto.cmd_proto,
        "seed": seed.cmd_seed,
        "screenshots": screenshots.cmd_screenshots,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``agora`` command.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns:
        The process exit code.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["test"]:
        # Everything after `test` belongs to the gates, options included, so argparse stays out.
        from agora_cli import gates

        return gates.run(arguments[1:])
    args = build_parser().parse_args(arguments)
    from agora_cli.config import StackBusyError

    try:
        return _handlers()[args.command](args)
    except (ValueError, StackBusyError) as error:
        sys.stderr.write(f"agora: {error}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
