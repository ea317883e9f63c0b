"""Outbox relay throughput next to raw broker publishing: ``agora bench relay`` as a script.

Run from the repository root, e.g. ``.venv/bin/python benchmarks/relay_throughput.py -n 5000``;
every option of ``agora bench`` applies. The code is ``agora_cli.bench.relay`` (see README.md).
"""

import sys

from agora_cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "relay", *sys.argv[1:]]))
