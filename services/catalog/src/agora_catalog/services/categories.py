"""Category use cases: the tree for shoppers, and admin create, rename, move and delete."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from typing import Any

from agora_catalog.models import Category
from agora_catalog.repositories.categories import CategoryRepository
from agora_catalog.schemas.category import CategoryCreate, CategoryNode, CategoryUpdate
from agora_catalog.services.audit import CatalogAudit
from agora_catalog.services.cache import ProductCache
from agora_catalog.services.errors import (
    CategoryCycle,
    CategoryInUse,
    CategoryNotFound,
    SlugTaken,
    UnknownCategory,
)
from agora_chassis.audit import Auditor

logger = logging.getLogger(__name__)


def build_tree(categories: list[Category]) -> list[CategoryNode]:
    """Nest ``categories`` under their parents; roots and children keep the given order."""
    children: dict[uuid.UUID | None, list[Category]] = defaultdict(list)
    for category in categories:
        children[category.parent_id].append(category)

    def node(category: Category) -> CategoryNode:
        kids = [node(child) for child in children[category.id]]
        return CategoryNode(id=category.id, name=category.name, slug=category.slug, children=kids)

    return [node(root) for root in children[None]]


class CategoryService:
    """Categories, for one transaction; every change is audited in that transaction."""

    def __init__(
        self, categories: CategoryRepository, cache: ProductCache, auditor: Auditor
    ) -> None:
        """Work through ``categories``; changes retire cached product lists and are audited."""
        self.categories = categories
        self.cache = cache
        self.auditor = auditor

    async def tree(self) -> list[CategoryNode]:
        """Every category as a tree, by name at each level."""
        return build_tree(await self.categories.all())

    async def create(self, data: CategoryCreate) -> Category:
        """Add a category (under ``parent_id``, when given)."""
        await self._check_slug_free(data.slug)
        if data.parent_id is not None and await self.categories.get(data.parent_id) is None:
            raise UnknownCategory(f"no parent category {data.parent_id}")
        category = Category(**data.model_dump())
        self.categories.add(category)
        await self.categories.flush()
        await self._changed(CatalogAudit.CATEGORY_CREATED, category, slug=category.slug)
        return category

    async def update(self, category_id: uuid.UUID, changes: CategoryUpdate) -> Category:
        """Rename, re-slug or move a category (never under itself or its descendants)."""
        category = await self._get(category_id)
        fields = changes.model_dump(exclude_unset=True)
        if "slug" in fields and fields["slug"] != category.slug:
            await self._check_slug_free(fields["slug"])
        if fields.get("parent_id") is not None:
            await self._check_parent(category, fields["parent_id"])
        for name, value in fields.items():
            setattr(category, name, value)
        await self.categories.flush()
        await self._changed(CatalogAudit.CATEGORY_CHANGED, category, fields=sorted(fields))
        return category

    async def delete(self, category_id: uuid.UUID) -> None:
        """Delete an empty category (no products, no sub-categories)."""
        category = await self._get(category_id)
        if await self.categories.in_use(category_id):
            raise CategoryInUse("move or delete its products and sub-categories first")
        await self.categories.delete(category)
        await self.categories.flush()
        await self._changed(CatalogAudit.CATEGORY_DELETED, category, slug=category.slug)

    async def _changed(self, event: CatalogAudit, category: Category, **details: Any) -> None:
        """Audit and log an admin's change, and retire the cached lists it affects."""
        await self.auditor.record(event, category_id=str(category.id), **details)
        logger.info("category %s %s", category.id, event.removeprefix("category_"))
        self._retire_lists()

    async def _get(self, category_id: uuid.UUID) -> Category:
        category = await self.categories.get(category_id)
        if category is None:
            raise CategoryNotFound(f"no category {category_id}")
        return category

    async def _check_slug_free(self, slug: str) -> None:
        if await self.categories.get_by_slug(slug) is not None:
            raise SlugTaken(f"slug {slug!r} is already in use")

    async def _check_parent(self, category: Category, parent_id: uuid.UUID) -> None:
        parents = {c.id: c.parent_id for c in await self.categories.all()}
        if parent_id not in parents:
            raise UnknownCategory(f"no parent category {parent_id}")
        ancestor: uuid.UUID | None = parent_id
        while ancestor is not None:
            if ancestor == category.id:
                raise CategoryCycle("a category cannot be moved under itself or its descendants")
            ancestor = parents[ancestor]

    def _retire_lists(self) -> None:
        cache = self.cache

        async def retire() -> None:
            await cache.invalidate(None, None)

        self.categories.after_commit(retire)
