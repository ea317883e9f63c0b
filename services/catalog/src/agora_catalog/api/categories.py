"""``/api/v1/categories``: the category tree; admins create, change and delete categories."""

from __future__ import annotations

import uuid
from http import HTTPStatus

from fastapi import APIRouter, Depends, Response, status

from agora_catalog.api.deps import Categories, CategoryAdmin
from agora_catalog.schemas.category import (
    CategoryCreate,
    CategoryNode,
    CategoryRead,
    CategoryUpdate,
)
from agora_chassis.auth import require_roles, require_scopes
from agora_chassis.openapi import problem_responses

ADMIN_ROLE = "admin"
WRITE_SCOPE = "catalog:write"  # granted by identity to admins (asked for, or by default)
ADMIN_RESPONSES = problem_responses(status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN)

# Every route reads the database: 503 when it is down.
router = APIRouter(
    prefix="/api/v1/categories",
    tags=["categories"],
    responses=problem_responses(status.HTTP_503_SERVICE_UNAVAILABLE),
)
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
    responses={
        **ADMIN_RESPONSES,
        **problem_responses(status.HTTP_409_CONFLICT, HTTPStatus.UNPROCESSABLE_ENTITY),
    },
)
async def create_category(data: CategoryCreate, categories: CategoryAdmin) -> object:
    """Add a category (admin)."""
    return await categories.create(data)


@router.patch(
    "/{category_id}",
    response_model=CategoryRead,
    dependencies=admin_writes,
    responses={
        **ADMIN_RESPONSES,
        **problem_responses(
            status.HTTP_404_NOT_FOUND,
            status.HTTP_409_CONFLICT,
            HTTPStatus.UNPROCESSABLE_ENTITY,
        ),
    },
)
async def update_category(
    category_id: uuid.UUID, changes: CategoryUpdate, categories: CategoryAdmin
) -> object:
    """Rename, re-slug or move a category (admin)."""
    return await categories.update(category_id, changes)


@router.delete(
    "/{category_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=admin_writes,
    responses={
        **ADMIN_RESPONSES,
        **problem_responses(status.HTTP_404_NOT_FOUND, status.HTTP_409_CONFLICT),
    },
)
async def delete_category(category_id: uuid.UUID, categories: CategoryAdmin) -> Response:
    """Delete an empty category (admin)."""
    await categories.delete(category_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
