"""``GET /api/v1/audit``: a service's audit log, newest first (admin only).

No ``from __future__ import annotations`` here: the route's annotations name the service's
dependency, a local of :func:`audit_router`, which FastAPI could not resolve from a string.
"""

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict

from agora_chassis.audit import Auditor
from agora_chassis.auth import require_roles
from agora_chassis.openapi import problem_responses
from agora_chassis.pagination import Page, Pagination

ADMIN_ROLE = "admin"


class AuditEntryRead(BaseModel):
    """One audit entry as the API shows it.

    Attributes:
        id: The entry's id.
        event: What happened.
        actor_id: The user who did it (``None``: anonymous, or a service client named in details).
        client_ip: Where the request came from.
        details: Ids and other facts about the action.
        created_at: When it happened.
    """

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event: str
    actor_id: uuid.UUID | None
    client_ip: str | None
    details: dict[str, Any]
    created_at: dt.datetime


def audit_router(auditor: Callable[..., Awaitable[Auditor]]) -> APIRouter:
    """The audit log's read route, reading through the service's ``auditor`` dependency.

    Args:
        auditor: The service's dependency that builds an :class:`Auditor` for the request.

    Returns:
        A router to include in the service's app.
    """
    router = APIRouter(
        prefix="/api/v1/audit",
        tags=["audit"],
        dependencies=[Depends(require_roles(ADMIN_ROLE))],
        # 401/403: not an admin; 503: the log is read from the database.
        responses=problem_responses(
            status.HTTP_401_UNAUTHORIZED,
            status.HTTP_403_FORBIDDEN,
            status.HTTP_503_SERVICE_UNAVAILABLE,
        ),
    )

    @router.get(
        "", response_model=Page[AuditEntryRead]  # noqa: FAST001 - always declared (standards)
    )
    async def list_audit_entries(
        log: Annotated[Auditor, Depends(auditor)], page: Pagination
    ) -> Page[AuditEntryRead]:
        """The audit log, newest first."""
        entries, total = await log.page(offset=page.offset, limit=page.per_page)
        items = [AuditEntryRead.model_validate(entry) for entry in entries]
        return Page[AuditEntryRead].of(items, total, page)

    return router
