"""The loader's category ordering, against an in-memory stand-in for the repository."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

import pytest

from agora_catalog.repositories.seeding import SeedRepository
from agora_catalog.seed.data import CategoryNode
from agora_catalog.seed.load import LoadReport, load_categories


class FakeSeeds:
    """Remembers categories by slug; inserts only new slugs, like ON CONFLICT DO NOTHING."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    async def add_categories(self, rows: Sequence[dict[str, Any]]) -> int:
        new = [row for row in rows if row["slug"] not in self.rows]
        self.rows |= {row["slug"]: {"id": uuid.uuid4(), **row} for row in new}
        return len(new)

    async def category_ids(self, slugs: Sequence[str]) -> dict[str, uuid.UUID]:
        return {slug: self.rows[slug]["id"] for slug in slugs if slug in self.rows}


async def test_load_categories_links_children_to_their_parents_ids() -> None:
    seeds = FakeSeeds()
    tree = [
        CategoryNode("Pans", "pans", "cookware"),  # listed before its parent: still works
        CategoryNode("Kitchen", "kitchen", None),
        CategoryNode("Cookware", "cookware", "kitchen"),
    ]

    added, ids = await load_categories(cast(SeedRepository, seeds), tree)

    assert added == 3
    assert seeds.rows["cookware"]["parent_id"] == ids["kitchen"]
    assert seeds.rows["pans"]["parent_id"] == ids["cookware"]
    assert seeds.rows["kitchen"]["parent_id"] is None


async def test_load_categories_twice_adds_nothing() -> None:
    seeds = FakeSeeds()
    tree = [CategoryNode("Kitchen", "kitchen", None)]
    await load_categories(cast(SeedRepository, seeds), tree)

    added, _ids = await load_categories(cast(SeedRepository, seeds), tree)

    assert added == 0


async def test_load_categories_refuses_an_orphan() -> None:
    tree = [CategoryNode("Pans", "pans", "nowhere")]

    with pytest.raises(ValueError, match="without a parent"):
        await load_categories(cast(SeedRepository, FakeSeeds()), tree)


def test_load_report_changed_only_when_something_was_added() -> None:
    assert not LoadReport(61, 0, 1200, 0, 0).changed
    assert LoadReport(61, 0, 1200, 1, 1).changed
