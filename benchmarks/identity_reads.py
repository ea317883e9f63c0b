"""Authenticated identity reads via the gateway and direct: ``agora bench identity`` as a script.

Run from the repository root, e.g. ``.venv/bin/python benchmarks/identity_reads.py --rounds 5``;
every option of ``agora bench`` applies. The code is ``agora_cli.bench.identity`` (see README.md).
"""

import sys

from agora_cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "identity", *sys.argv[1:]]))
