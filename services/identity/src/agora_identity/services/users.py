"""Reading and administering user accounts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from agora_chassis.pagination import PageParams
from agora_identity.models import AuditEvent, Role, User
from agora_identity.repositories.users import UserProfiles, UserRepository
from agora_identity.schemas.user import UserFilter, UserRead, UserUpdate
from agora_identity.services.audit import Auditor
from agora_identity.services.errors import SelfLockout, UserNotFound


@dataclass
class UserQueries:
    """User use cases that only read: plain rows without a transaction, nothing audited.

    Kept apart from :class:`UserService` so a read builds only what it uses: rows of the columns
    it shows, validated into ``UserRead``, rather than entities in a session (ADR 0018).
    """

    profiles: UserProfiles

    async def get(self, user_id: uuid.UUID) -> UserRead:
        """Return a user's profile.

        Raises:
            UserNotFound: No such user.
        """
        row = await self.profiles.find(user_id)
        if row is None:
            raise UserNotFound(f"No user with id {user_id}.")
        return UserRead.model_validate(row)

    async def list(self, filters: UserFilter, page: PageParams) -> tuple[list[UserRead], int]:
        """Return one page of profiles matching ``filters`` and the total count."""
        rows, total = await self.profiles.list(
            email=filters.email,
            role=filters.role.value if filters.role else None,
            is_active=filters.is_active,
            offset=page.offset,
            limit=page.per_page,
        )
        return [UserRead.model_validate(row) for row in rows], total


@dataclass
class UserService:
    """User use cases that change users, within one transaction, audited as the caller's."""

    users: UserRepository
    auditor: Auditor

    async def get(self, user_id: uuid.UUID) -> User:
        """Return a user.

        Raises:
            UserNotFound: No such user.
        """
        user = await self.users.get(user_id)
        if user is None:
            raise UserNotFound(f"No user with id {user_id}.")
        return user

    async def update(self, user_id: uuid.UUID, changes: UserUpdate, actor_id: uuid.UUID) -> User:
        """Change a user's roles or active flag, auditing what changed.

        Raises:
            UserNotFound: No such user.
            SelfLockout: An admin removing their own admin role or deactivating themselves.
        """
        user = await self.get(user_id)
        roles = sorted({role.value for role in changes.roles}) if changes.roles else None
        if user_id == actor_id and (
            (roles is not None and Role.ADMIN.value not in roles) or changes.is_active is False
        ):
            raise SelfLockout("Admins cannot remove their own admin role or deactivate themselves.")
        if roles is not None and roles != sorted(user.roles):
            await self.auditor.record(
                AuditEvent.ROLES_CHANGED, user_id=user.id, before=sorted(user.roles), after=roles
            )
            user.roles = roles
        if changes.is_active is not None and changes.is_active != user.is_active:
            await self.auditor.record(
                AuditEvent.USER_UPDATED, user_id=user.id, is_active=changes.is_active
            )
            user.is_active = changes.is_active
        await self.users.flush()
        return user
