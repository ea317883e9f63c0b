"""What the service sent, for admins."""

from __future__ import annotations

from agora_notification.models import Notification
from agora_notification.repositories.notifications import NotificationRepository


class NotificationHistory:
    """Reads the ``notifications`` the service recorded, for one transaction."""

    def __init__(self, notifications: NotificationRepository) -> None:
        """Read through ``notifications``."""
        self.notifications = notifications

    async def page(self, *, offset: int, limit: int) -> tuple[list[Notification], int]:
        """One page of notifications, newest first, and the total count."""
        return await self.notifications.list(offset=offset, limit=limit)
