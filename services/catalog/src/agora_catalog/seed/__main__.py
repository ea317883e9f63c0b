"""``python -m agora_catalog.seed``: see :mod:`agora_catalog.seed.cli`."""

from agora_catalog.seed.cli import main

raise SystemExit(main())
