"""Catalog reads through the gateway and direct: ``agora bench catalog`` as a script.

Run from the repository root, e.g. ``.venv/bin/python benchmarks/catalog_reads.py --requests 500``;
every option of ``agora bench`` applies. The code is ``agora_cli.bench.catalog`` (see README.md).
"""

import sys

from agora_cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "catalog", *sys.argv[1:]]))
