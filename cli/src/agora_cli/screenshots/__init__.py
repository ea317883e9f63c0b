"""``agora screenshots``: PNGs of the storefront's main pages, at a phone's and a desktop's width.

One command boots a private stack (a scratch data directory on free ports, as the HTTP benchmarks
do: :func:`agora_cli.bench.stacks.private_stack`), seeds the demo catalogue, drives Debian's
Chromium with Playwright (:mod:`agora_cli.screenshots.browser`) and writes
``<name>-<viewport>.png`` into ``docs/screenshots/``, then runs ``agora down``. ``--gateway-url``
shoots a running stack instead.

Each shot is one viewport (not a whole-page scroll of the catalogue), so the files stay small. The
pages of the shopper who is signed in (basket, checkout, order) and the operator's (admin) are
shot as the stack's admin, signed in through the storefront's login form; a page that answers
404 (not built yet) or has nothing to show (no order placed) is skipped with a printed note, so
the command works before and after those pages land.

Playwright is a development dependency (the root ``dev`` group, which ``./agora`` syncs): a
runtime install of the CLI runs the stack without a browser driver. Its own browser download is
not used: ``--chromium`` names the browser (default ``/usr/bin/chromium``, Debian's package).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_INSTALL = "apt-get install -y chromium"
PLAYWRIGHT_INSTALL = "./agora --help (syncs the dev dependencies) or `uv sync --all-packages`"
# Wrong on purpose: the catalog's search is typo tolerant ("headphones").
SEARCH_TYPO = "hedphones"


@dataclass(frozen=True)
class Viewport:
    """A browser window's size in CSS pixels, and its name in the files' names."""

    name: str
    width: int
    height: int


VIEWPORTS = (Viewport("phone", 390, 844), Viewport("desktop", 1280, 800))


@dataclass(frozen=True)
class Shot:
    """One page to shoot: its name, its path, and whether the admin must be signed in.

    ``path`` may hold ``{product}`` or ``{order}``: the first product the home page links to, the
    first order the account's order list links to. ``optional`` pages are skipped with a note when
    they answer 404 or cannot be reached.
    """

    name: str
    path: str
    signed_in: bool = False
    optional: bool = False

    def file_name(self, viewport: Viewport) -> str:
        """``<name>-<viewport>.png``."""
        return f"{self.name}-{viewport.name}.png"


SHOTS = (
    Shot("home", "/"),
    Shot("search", f"/search?q={SEARCH_TYPO}"),
    Shot("product", "/products/{product}"),
    Shot("basket", "/basket", signed_in=True, optional=True),
    Shot("checkout", "/checkout", signed_in=True, optional=True),
    Shot("order", "/account/orders/{order}", signed_in=True, optional=True),
    Shot("admin", "/admin", signed_in=True, optional=True),
    Shot("admin-orders", "/admin/orders", signed_in=True, optional=True),
    Shot("admin-dead-letters", "/admin/dead-letters", signed_in=True, optional=True),
)
NAMES = tuple(shot.name for shot in SHOTS)


class ScreenshotError(RuntimeError):
    """What is missing to take the screenshots, and how to get it."""


def chosen(names: list[str] | None) -> list[Shot]:
    """The shots asked for (``--page``), in the order of :data:`SHOTS`; every one by default."""
    return [shot for shot in SHOTS if not names or shot.name in names]


def default_out() -> Path:
    """``docs/screenshots`` of the repository."""
    from agora_cli.config import repo_root

    return repo_root() / "docs" / "screenshots"


def check_browser(chromium: str) -> None:
    """Make sure Playwright and the browser are there.

    Raises:
        ScreenshotError: With the command that installs what is missing.
    """
    if not Path(chromium).exists() and shutil.which(chromium) is None:
        raise ScreenshotError(f"no Chromium at {chromium}: install it with `{CHROMIUM_INSTALL}`")
    try:
        import playwright.sync_api  # noqa: F401 - only whether it is installed
    except ImportError:
        raise ScreenshotError(
            f"Playwright for Python is missing (a development dependency): {PLAYWRIGHT_INSTALL}"
        ) from None


def add_parser(commands: Any) -> None:
    """Add ``agora screenshots`` to the CLI's subcommands (``commands`` from ``add_subparsers``)."""
    parser = commands.add_parser(
        "screenshots",
        help="PNGs of the storefront's main pages, phone and desktop (boots a private stack)",
        epilog=f"pages: {', '.join(NAMES)}",
    )
    parser.add_argument(
        "--page", action="append", choices=NAMES, dest="pages", help="only this page (repeatable)"
    )
    parser.add_argument("--out", type=Path, help="directory (default: docs/screenshots)")
    parser.add_argument("--chromium", default=DEFAULT_CHROMIUM, help="the browser to drive")
    parser.add_argument(
        "--products", type=int, help="products `agora seed` loads (default: the seed's, 1200)"
    )
    parser.add_argument("--gateway-url", help="shoot a running stack (seeded) instead of a new one")


def cmd_screenshots(args: argparse.Namespace) -> int:
    """Boot and seed a private stack (unless ``--gateway-url``), shoot the pages, stop it.

    Returns:
        0 when every page was shot or skipped with a note; 1 with ``agora: <why>`` when a
        browser or the stack is missing or fails.
    """
    from agora_cli.bench.stacks import BenchmarkError

    out: Path = args.out or default_out()
    shots = chosen(args.pages)
    try:
        check_browser(args.chromium)
        if args.gateway_url:
            written = _shoot(args.gateway_url, shots, out, args.chromium)
        else:
            written = _on_private_stack(args.products, shots, out, args.chromium)
    except (ScreenshotError, BenchmarkError) as error:
        sys.stderr.write(f"agora: {error}\n")
        return 1
    sys.stderr.write(f"{len(written)} screenshots in {out}\n")
    return 0


def _on_private_stack(
    products: int | None, shots: list[Shot], out: Path, chromium: str
) -> list[Path]:
    from agora_cli.bench.stacks import private_stack
    from agora_cli.services import CATALOG, STOREFRONT

    with private_stack(products, STOREFRONT, CATALOG) as target:
        return _shoot(target.gateway_url, shots, out, chromium)


def _shoot(gateway_url: str, shots: list[Shot], out: Path, chromium: str) -> list[Path]:
    from agora_cli.screenshots.browser import shoot

    out.mkdir(parents=True, exist_ok=True)
    return shoot(gateway_url, shots, out, chromium)
