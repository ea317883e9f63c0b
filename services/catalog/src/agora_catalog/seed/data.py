"""The vocabulary of the demo catalogue, read from ``catalogue.toml`` into typed records.

Leaves carry what a product of theirs is: nouns, materials, a price range, the attributes that
make sense for it and what it is used for, so descriptions read naturally and full-text search
finds ``cast iron``, ``espresso`` or ``waterproof``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

AttributeChoice = str | int | bool
DEFAULT_WEIGHT = 2
VOCABULARY_FILES = ("catalogue.toml", "words.toml")


@dataclass(frozen=True)
class Leaf:
    """A category that holds products.

    Attributes:
        name: Display name.
        slug: URL name (unique across the tree).
        code: SKU prefix of its products.
        top_slug: Slug of its top-level category (whose brands it sells).
        nouns: What its products are (``Frying Pan``).
        materials: What they are made of.
        low: Lowest price (EUR).
        high: Highest price (EUR).
        uses: Phrases completing "made for ..." in descriptions.
        extras: Attribute name and its possible values, in file order.
        weight: Relative share of the products.
    """

    name: str
    slug: str
    code: str
    top_slug: str
    nouns: tuple[str, ...]
    materials: tuple[str, ...]
    low: Decimal
    high: Decimal
    uses: tuple[str, ...]
    extras: tuple[tuple[str, tuple[AttributeChoice, ...]], ...]
    weight: int = DEFAULT_WEIGHT


@dataclass(frozen=True)
class CategoryNode:
    """A category of the tree, parents listed before their children.

    Attributes:
        name: Display name.
        slug: URL name.
        parent_slug: The parent's slug; ``None`` at the top.
    """

    name: str
    slug: str
    parent_slug: str | None


@dataclass(frozen=True)
class Vocabulary:
    """Everything the generator draws from.

    Attributes:
        categories: The whole tree, each parent before its children.
        leaves: The categories that hold products.
        brands: Brands by top-level category slug.
        words: Word lists: adjectives, series, colours, pitches, qualities, closings and
            generalist_brands (brands that sell in every category).
    """

    categories: tuple[CategoryNode, ...]
    leaves: tuple[Leaf, ...]
    brands: dict[str, tuple[str, ...]]
    words: dict[str, tuple[str, ...]]

    def word(self, kind: str) -> tuple[str, ...]:
        """The word list ``kind`` (``adjectives``, ``colours``...)."""
        return self.words[kind]


def _leaf(raw: dict[str, Any], top_slug: str) -> Leaf:
    low, high = (Decimal(value) for value in raw["price"])
    if not Decimal(0) < low <= high:
        raise ValueError(f"leaf {raw['slug']}: bad price range {raw['price']}")
    return Leaf(
        name=raw["name"],
        slug=raw["slug"],
        code=raw["code"],
        top_slug=top_slug,
        nouns=tuple(raw["nouns"]),
        materials=tuple(raw["materials"]),
        low=low,
        high=high,
        uses=tuple(raw["uses"]),
        extras=tuple((name, tuple(values)) for name, values in raw.get("extras", {}).items()),
        weight=int(raw.get("weight", DEFAULT_WEIGHT)),
    )


def parse_vocabulary(raw: dict[str, Any]) -> Vocabulary:
    """Turn the parsed TOML document into a :class:`Vocabulary`.

    Args:
        raw: The document (``[words]`` and the ``[[top]]`` tree).

    Returns:
        The vocabulary.

    Raises:
        ValueError: When a slug or SKU code repeats, or a price range is invalid.
    """
    categories: list[CategoryNode] = []
    leaves: list[Leaf] = []
    for top in raw["top"]:
        categories.append(CategoryNode(top["name"], top["slug"], None))
        for sub in top["sub"]:
            categories.append(CategoryNode(sub["name"], sub["slug"], top["slug"]))
            for leaf in sub["leaf"]:
                categories.append(CategoryNode(leaf["name"], leaf["slug"], sub["slug"]))
                leaves.append(_leaf(leaf, top["slug"]))
    for label, values in (
        ("slug", [c.slug for c in categories]),
        ("code", [leaf.code for leaf in leaves]),
    ):
        if len(set(values)) != len(values):
            raise ValueError(f"the catalogue vocabulary repeats a {label}")
    return Vocabulary(
        categories=tuple(categories),
        leaves=tuple(leaves),
        brands={top["slug"]: tuple(top["brands"]) for top in raw["top"]},
        words={kind: tuple(values) for kind, values in raw["words"].items()},
    )


@cache
def vocabulary() -> Vocabulary:
    """The vocabulary shipped with the package (read once)."""
    package = resources.files("agora_catalog.seed")
    raw: dict[str, Any] = {}
    for name in VOCABULARY_FILES:
        raw |= tomllib.loads(package.joinpath(name).read_text(encoding="utf-8"))
    return parse_vocabulary(raw)
