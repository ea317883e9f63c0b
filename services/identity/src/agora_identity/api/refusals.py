"""Audit every refused access token (the chassis calls this hook on each 401/403)."""

from __future__ import annotations

from fastapi import Request

from agora_chassis.client_address import client_ip
from agora_identity.models import AuditEvent
from agora_identity.repositories.audit import AuditRepository
from agora_identity.services.audit import Auditor, RequestContext


async def audit_refusal(reason: str, request: Request) -> None:
    """Record a refused token in the audit log.

    The refused request has no transaction of its own (authentication failed before it opened
    one), so the entry gets a short one. Callers hammering forged tokens are bounded by the API
    rate limit, which runs before authentication.

    Args:
        reason: Why the token was refused (never the token itself).
        request: The refused request.
    """
    async with request.app.state.sessionmaker.begin() as session:
        auditor = Auditor(AuditRepository(session), RequestContext(client_ip(request)))
        await auditor.record(
            AuditEvent.ACCESS_REFUSED, reason=reason, method=request.method, path=request.url.path
        )
