"""``python -m agora_cli.paysim --port P --data-dir DIR [--no-admin]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from agora_cli.paysim.server import build_simulator, serve


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and run the simulator until SIGINT/SIGTERM.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns:
        The process exit code.
    """
    parser = argparse.ArgumentParser(prog="agora-paysim", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument(
        "--no-admin",
        dest="admin",
        action="store_false",
        help="serve only /health and /v1, not the ledger and faults (the production profile)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    simulator = build_simulator(args.data_dir.resolve(), os.environ)
    asyncio.run(serve(simulator, args.port, admin=args.admin))
    return 0


if __name__ == "__main__":
    sys.exit(main())
