"""``build_tree``: flat categories nested under their parents."""

from __future__ import annotations

import uuid

from agora_catalog.models import Category
from agora_catalog.services.categories import build_tree


def _category(slug: str, parent: Category | None = None) -> Category:
    return Category(id=uuid.uuid4(), name=slug.title(), slug=slug, parent_id=parent and parent.id)


def test_build_tree_no_categories_is_empty() -> None:
    assert build_tree([]) == []


def test_build_tree_nests_three_levels() -> None:
    home = _category("home")
    kitchen = _category("kitchen", home)
    knives = _category("knives", kitchen)

    [root] = build_tree([knives, home, kitchen])

    assert root.slug == "home"
    assert [child.slug for child in root.children] == ["kitchen"]
    assert [grandchild.slug for grandchild in root.children[0].children] == ["knives"]
    assert root.children[0].children[0].children == []


def test_build_tree_keeps_given_order_at_each_level() -> None:
    home = _category("home")
    categories = [_category("garden"), home, _category("kitchen", home), _category("bath", home)]

    tree = build_tree(categories)

    assert [node.slug for node in tree] == ["garden", "home"]
    assert [node.slug for node in tree[1].children] == ["kitchen", "bath"]
