"""``python -m agora_cli.mailsink --smtp-port P --http-port Q --maildir DIR``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from agora_cli.mailsink.server import serve


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and run the sink until SIGINT/SIGTERM.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns:
        The process exit code.
    """
    parser = argparse.ArgumentParser(prog="agora-mailsink", description=__doc__)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    parser.add_argument(
        "--no-web",
        dest="web",
        action="store_false",
        help="serve only /health over HTTP, not the mail (the production profile)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # aiosmtpd logs every SMTP command at INFO (AUTH lines included): keep only its problems.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    asyncio.run(serve(args.smtp_port, args.http_port, args.maildir.resolve(), web=args.web))
    return 0


if __name__ == "__main__":
    sys.exit(main())
