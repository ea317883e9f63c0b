"""Generate the demo catalogue: pure functions, the same output for the same seed, every time.

Each product draws from its own ``random.Random`` seeded with ``"<seed>:<index>"`` (string seeds
hash the same in every process), so product *n* does not depend on how many products are asked
for: ``--count 1500`` after ``--count 1200`` only adds 300.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from agora_catalog.seed.data import CategoryNode, Leaf, Vocabulary, vocabulary
from agora_catalog.services.images import image_path

DEFAULT_COUNT = 1200
DEFAULT_SEED = 2026
CURRENCY = "EUR"
MAX_STOCK = 200
OUT_OF_STOCK_SHARE = 0.08
INACTIVE_SHARE = 0.015
GENERALIST_SHARE = 0.1
SKU_DIGITS = 5
CENT = Decimal("0.01")
CHEAP, MID, DEAR = 10, 100, 1000
"""Price bands (EUR) that get different "charm" endings: 4.99, 49.95, 245.00, 1290.00."""


@dataclass(frozen=True)
class ProductSeed:
    """One generated product, with its category by slug and its starting stock."""

    sku: str
    name: str
    description: str
    brand: str
    price: Decimal
    currency: str
    image_url: str
    attributes: dict[str, Any]
    active: bool
    category_slug: str
    on_hand: int

    def fields(self) -> dict[str, Any]:
        """The product's columns (everything but the category slug and the stock)."""
        return {
            "sku": self.sku,
            "name": self.name,
            "description": self.description,
            "brand": self.brand,
            "price": self.price,
            "currency": self.currency,
            "image_url": self.image_url,
            "attributes": self.attributes,
            "active": self.active,
        }


@dataclass(frozen=True)
class Catalogue:
    """The category tree (parents first) and the products."""

    categories: tuple[CategoryNode, ...]
    products: tuple[ProductSeed, ...]


def generate(
    count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED, words: Vocabulary | None = None
) -> Catalogue:
    """The demo catalogue: the whole category tree and ``count`` products.

    Args:
        count: How many products.
        seed: Random seed; the same seed always gives the same catalogue.
        words: The vocabulary; the packaged one when omitted.

    Returns:
        The catalogue.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    words = words or vocabulary()
    return Catalogue(
        categories=words.categories,
        products=tuple(product(index, seed, words) for index in range(count)),
    )


def product(index: int, seed: int, words: Vocabulary) -> ProductSeed:
    """Product number ``index`` (from 0) of the catalogue of ``seed``."""
    rng = random.Random(f"{seed}:{index}")  # noqa: S311  # nosec B311 - demo data, not secrets
    leaf = rng.choices(words.leaves, weights=[leaf.weight for leaf in words.leaves])[0]
    own_brands = words.brands[leaf.top_slug]
    generalist = rng.random() < GENERALIST_SHARE
    brand = rng.choice(words.word("generalist_brands") if generalist else own_brands)
    material, noun = rng.choice(leaf.materials), rng.choice(leaf.nouns)
    colour = rng.choice(words.word("colours"))
    name = _name(rng, words, material, noun, colour)
    sku = f"{leaf.code}-{index + 1:0{SKU_DIGITS}d}"
    attributes: dict[str, Any] = {"colour": colour, "material": material}
    attributes |= {attribute: rng.choice(values) for attribute, values in leaf.extras}
    return ProductSeed(
        sku=sku,
        name=name,
        description=_description(rng, words, leaf, name, brand, material, colour),
        brand=brand,
        price=_price(rng, leaf),
        currency=CURRENCY,
        image_url=image_path(sku),
        attributes=attributes,
        active=rng.random() >= INACTIVE_SHARE,
        category_slug=leaf.slug,
        on_hand=0 if rng.random() < OUT_OF_STOCK_SHARE else rng.randint(1, MAX_STOCK),
    )


def _name(rng: random.Random, words: Vocabulary, material: str, noun: str, colour: str) -> str:
    adjective, series = rng.choice(words.word("adjectives")), rng.choice(words.word("series"))
    patterns = (
        f"{adjective} {material} {noun}",
        f"{adjective} {noun} {series}",
        f"{noun} {series} in {colour}",
        f"{material} {noun} {series}",
    )
    return rng.choice(patterns)


def _lower(text: str) -> str:
    """Lower-case ``text`` for the middle of a sentence, keeping acronyms (``VG-10``, ``PBT``)."""
    return " ".join(word if word.isupper() else word.lower() for word in text.split())


def _description(
    rng: random.Random,
    words: Vocabulary,
    leaf: Leaf,
    name: str,
    brand: str,
    material: str,
    colour: str,
) -> str:
    pitch, use = rng.choice(words.word("pitches")), rng.choice(leaf.uses)
    quality, closing = rng.choice(words.word("qualities")), rng.choice(words.word("closings"))
    return (
        f"{name} by {brand}: {pitch} {use}. "
        f"Finished in {_lower(colour)} with a {_lower(material)} build, {quality}. {closing}"
    )


def _price(rng: random.Random, leaf: Leaf) -> Decimal:
    """A price between the leaf's bounds, skewed to the cheap end, with a shop-like ending."""
    low, high = float(leaf.low), float(leaf.high)
    value = low * (high / low) ** rng.random()  # log-uniform: many cheap, few dear
    if value < CHEAP:
        price = math.floor(value) + rng.choice((0.49, 0.79, 0.99))
    elif value < MID:
        price = math.floor(value) + rng.choice((0.50, 0.95, 0.99, 0.99))
    elif value < DEAR:
        price = 5 * math.floor(value / 5) - rng.choice((0.0, 0.01, 0.01))
    else:
        price = 10 * math.floor(value / 10) - rng.choice((0.0, 0.01))
    exact = Decimal(str(price)).quantize(CENT, rounding=ROUND_HALF_UP)
    return min(max(exact, leaf.low), leaf.high)
