"""Dependencies that assemble notification's services for one request (the only API module that
builds repositories)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agora_chassis.audit import Actor, Auditor, AuditRepository
from agora_chassis.auth import CurrentPrincipal
from agora_chassis.client_address import client_ip
from agora_chassis.db import DbSession
from agora_notification.models import AuditEntry
from agora_notification.repositories.notifications import NotificationRepository
from agora_notification.services.history import NotificationHistory


async def notification_history(session: DbSession) -> NotificationHistory:
    """The notification history for this request."""
    return NotificationHistory(NotificationRepository(session))


async def auditor(request: Request, session: DbSession, principal: CurrentPrincipal) -> Auditor:
    """Notification's audit log for this request, recording what the caller does."""
    return Auditor(AuditRepository(session, AuditEntry), Actor.of(principal, client_ip(request)))


History = Annotated[NotificationHistory, Depends(notification_history)]
