"""``/api/v1/categories``: the category tree; admins create, change and delete categories."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Response, status

from agora_catalog.api.deps import Categories
from agora_catalog.schemas.category import (
    CategoryCreate,
    CategoryNode,
    CategoryRead,
    CategoryUpdate,
)
from agora_chassis.auth import require_roles, require_scopes

ADMIN_ROLE = "admin"
WRITE_SCOPE = "catalog:write"  # granted by identity to admins (asked for, or by default)
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {401: PROBLEM, 403: PROBLEM, 404: PROBLEM}

router = APIRouter(prefix="/api/v1/categories", tags=["categories"])
# Writes need the scope as well as the role: an admin token narrowed at login cannot change data.
admin_writes = [Depends(require_roles(ADMIN_ROLE)), Depends(require_scopes(WRITE_SCOPE))]


@router.get("", response_model=list[CategoryNode])
async def category_tree(categories: Categories) -> list[CategoryNode]:
    """Every category as a tree (top-level ones with their sub-categories), by name."""
    return await categories.tree()


@router.post(
    "",
    response_model=CategoryRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=admin_writes,
    responses={**ADMIN_RESPONSES, 409: PROBLEM, 422: PROBLEM},
)
async def create_category(data: CategoryCreate, categories: Categories) -> object:
    """Add a category (admin)."""
    return await categories.create(data)


@router.patch(
    "/{category_id}",
    response_model=CategoryRead,
    dependencies=admin_writes,
    responses={**ADMIN_RESPONSES, 409: PROBLEM, 422: PROBLEM},
)
async def update_category(
    category_id: uuid.UUID, changes: CategoryUpdate, categories: Categories
) -> object:
    """Rename, re-slug or move a category (admin)."""
    return await categories.update(category_id, changes)


@router.delete(
    "/{category_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=admin_writes,
    responses={**ADMIN_RESPONSES, 409: PROBLEM},
)
async def delete_category(category_id: uuid.UUID, categories: Categories) -> Response:
    """Delete an empty category (admin)."""
    await categories.delete(category_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
