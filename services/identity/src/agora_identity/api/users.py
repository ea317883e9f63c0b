"""``/api/v1/users``: the caller's own profile, and admin user management."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from agora_chassis.auth import CurrentPrincipal, require_roles, require_scopes
from agora_chassis.openapi import problem_responses
from agora_chassis.pagination import Page, Pagination
from agora_identity.api.deps import UserReads, Users
from agora_identity.models import Role
from agora_identity.schemas.user import (
    EMAIL_MAX,
    NO_CONTROL_CHARACTERS,
    UserFilter,
    UserRead,
    UserUpdate,
)
from agora_identity.services.tokens import USERS_WRITE_SCOPE

# Every route needs a token and reads the database.
router = APIRouter(
    prefix="/api/v1/users",
    tags=["users"],
    responses=problem_responses(status.HTTP_401_UNAUTHORIZED, status.HTTP_503_SERVICE_UNAVAILABLE),
)
admin_only = [Depends(require_roles(Role.ADMIN.value))]
# Writes need the scope as well as the role: a token an admin narrowed at login cannot change users.
admin_writes = [*admin_only, Depends(require_scopes(USERS_WRITE_SCOPE))]


@router.get(
    "/me",
    response_model=UserRead,
    # A valid token of an account deleted since it was issued.
    responses=problem_responses(status.HTTP_404_NOT_FOUND),
)
async def me(principal: CurrentPrincipal, users: UserReads) -> object:
    """The authenticated user's own account."""
    return await users.get(uuid.UUID(principal.subject))


@router.get(
    "",
    response_model=Page[UserRead],
    dependencies=admin_only,
    responses=problem_responses(status.HTTP_403_FORBIDDEN),
)
async def list_users(
    users: UserReads,
    page: Pagination,
    email: Annotated[
        str | None,
        Query(
            max_length=EMAIL_MAX,
            pattern=NO_CONTROL_CHARACTERS,
            description="Part of the e-mail",
        ),
    ] = None,
    role: Annotated[Role | None, Query(description="Users holding this role")] = None,
    is_active: Annotated[bool | None, Query(description="Active or deactivated users")] = None,
) -> Page[UserRead]:
    """List users (admin only), oldest first."""
    items, total = await users.list(UserFilter(email=email, role=role, is_active=is_active), page)
    return Page[UserRead].of(items, total, page)


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    dependencies=admin_writes,
    responses=problem_responses(
        status.HTTP_403_FORBIDDEN, status.HTTP_404_NOT_FOUND, status.HTTP_409_CONFLICT
    ),
)
async def update_user(
    user_id: uuid.UUID, changes: UserUpdate, users: Users, principal: CurrentPrincipal
) -> object:
    """Change a user's roles or active flag (admin with ``users:write``; audited)."""
    return await users.update(user_id, changes, uuid.UUID(principal.subject))
