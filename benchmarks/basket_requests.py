"""The basket read and written via the gateway and direct: ``agora bench basket`` as a script.

Run from the repository root, e.g. ``.venv/bin/python benchmarks/basket_requests.py --rounds 5``;
every option of ``agora bench`` applies. The code is ``agora_cli.bench.basket`` (see README.md).
"""

import sys

from agora_cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "basket", *sys.argv[1:]]))
