"""The storefront's home page via the gateway and direct: ``agora bench storefront`` as a script.

Run from the repository root, e.g. ``.venv/bin/python benchmarks/storefront_pages.py --rounds 5``;
every option of ``agora bench`` applies. The code is ``agora_cli.bench.storefront`` (see
README.md).
"""

import sys

from agora_cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "storefront", *sys.argv[1:]]))
