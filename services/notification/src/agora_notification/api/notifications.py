"""``/api/v1/notifications``: what the service sent (admin only)."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict

from agora_chassis.auth import require_roles
from agora_chassis.openapi import problem_responses
from agora_chassis.pagination import Page, Pagination
from agora_notification.api.deps import History

ADMIN_ROLE = "admin"

# Every route needs a token and reads the database.
router = APIRouter(
    prefix="/api/v1/notifications",
    tags=["notifications"],
    responses=problem_responses(status.HTTP_401_UNAUTHORIZED, status.HTTP_503_SERVICE_UNAVAILABLE),
)
admin_only = [Depends(require_roles(ADMIN_ROLE))]


class NotificationRead(BaseModel):
    """A notification as the API shows it.

    Attributes:
        id: The notification's id.
        recipient: Where it was sent.
        template: The template it was rendered from.
        subject: Its subject line.
        status: ``pending``, ``sent`` or ``failed``.
        attempts: How many times sending was tried.
        sent_at: When the relay accepted it.
        event_id: The event that caused it.
        order_id: The order it is about (order e-mails only).
        created_at: When it was first recorded.
    """

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    recipient: str
    template: str
    subject: str
    status: str
    attempts: int
    sent_at: dt.datetime | None
    event_id: str
    order_id: uuid.UUID | None
    created_at: dt.datetime


@router.get(
    "",
    response_model=Page[NotificationRead],
    dependencies=admin_only,
    responses=problem_responses(status.HTTP_403_FORBIDDEN),
)
async def list_notifications(history: History, page: Pagination) -> Page[NotificationRead]:
    """List notifications (admin only), newest first."""
    items, total = await history.page(offset=page.offset, limit=page.per_page)
    return Page[NotificationRead].of(
        [NotificationRead.model_validate(item) for item in items], total, page
    )
