"""Orders carried to PAID by the saga: ``agora bench checkout`` as a script.

Run from the repository root, e.g. ``.venv/bin/python benchmarks/checkout_orders.py
--requests 500``; every option of ``agora bench`` applies. The code is
``agora_cli.bench.checkout`` (see README.md).
"""

import sys

from agora_cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "checkout", *sys.argv[1:]]))
