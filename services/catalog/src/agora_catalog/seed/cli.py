"""``python -m agora_catalog.seed``: load the demo catalogue into the database of the settings.

Reads the catalog's settings (``AGORA_DATABASE_URL``, ``AGORA_REDIS_URL``...) like the service
does, prints its progress on stdout and exits with 1 when the load fails. Refuses to run with
``AGORA_ENVIRONMENT=production`` unless ``--allow-production`` is given: demo data has no place
in a real shop by accident.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from agora_catalog.repositories.seeding import SeedRepository
from agora_catalog.seed.generate import DEFAULT_COUNT, DEFAULT_SEED, generate
from agora_catalog.seed.load import LoadReport, load_catalogue
from agora_catalog.services.cache import ProductCache
from agora_catalog.settings import CatalogSettings
from agora_chassis.db import create_engine, create_sessionmaker

PREFIX = "catalog seed"


def say(message: str) -> None:
    """Print a progress line (flushed: the output is usually piped)."""
    sys.stdout.write(f"{PREFIX}: {message}\n")
    sys.stdout.flush()


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m agora_catalog.seed",
        description="Load the demo catalogue (idempotent: existing rows are left as they are).",
    )
    parser.add_argument("--count", type=_count, default=DEFAULT_COUNT, help="products to load")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--allow-production", action="store_true", help="seed even with the production profile"
    )
    return parser


async def _retire_cached_lists(settings: CatalogSettings) -> None:
    cache = ProductCache.from_url(
        settings.redis_url,
        product_ttl=settings.product_cache_seconds,
        list_ttl=settings.list_cache_seconds,
    )
    try:
        await cache.invalidate(None, None)
    finally:
        await cache.aclose()


async def seed(settings: CatalogSettings, count: int, random_seed: int) -> LoadReport:
    """Generate ``count`` products and load what is missing, in one transaction.

    Cached product lists are retired afterwards, so shoppers see the new products at once.
    """
    started = time.monotonic()
    catalogue = generate(count, random_seed)
    say(
        f"generated {count} products in {len(catalogue.categories)} categories (seed {random_seed})"
    )
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            report = await load_catalogue(session, catalogue, say)
            totals = await SeedRepository(session).counts()
    finally:
        await engine.dispose()
    if report.changed:
        await _retire_cached_lists(settings)
    say(
        f"done in {time.monotonic() - started:.1f}s: {report.products_added} products and "
        f"{report.categories_added} categories added, {report.products - report.products_added} "
        f"products already there (left as they were); the catalogue holds {totals['products']} "
        f"products in {totals['categories']} categories"
    )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns:
        The exit status: 0 when loaded, 1 when refused or failed.
    """
    args = build_parser().parse_args(argv)
    try:
        settings = CatalogSettings()
    except ValueError as exc:
        sys.stderr.write(f"{PREFIX}: invalid settings: {exc}\n")
        return 1
    if settings.environment == "production" and not args.allow_production:
        sys.stderr.write(f"{PREFIX}: refusing to load demo data in production\n")
        return 1
    try:
        asyncio.run(seed(settings, args.count, args.seed))
    except (SQLAlchemyError, OSError) as exc:
        sys.stderr.write(f"{PREFIX}: failed: {exc}\n")
        return 1
    return 0
