"""Audit every refused access token (the chassis calls this hook on each 401/403)."""

from __future__ import annotations

from fastapi import Request

from agora_chassis.state import service_state
from agora_identity.api.deps import refusal_auditor
from agora_identity.models import AuditEvent


async def audit_refusal(reason: str, request: Request) -> None:
    """Record a refused token in the audit log.

    The refused request has no transaction of its own (authentication failed before it opened
    one), so the entry gets a short one. Callers hammering forged tokens are bounded by the API
    rate limit, which runs before authentication.

    Args:
        reason: Why the token was refused (never the token itself).
        request: The refused request.
    """
    async with service_state(request).sessionmaker.begin() as session:
        await refusal_auditor(request, session).record(
            AuditEvent.ACCESS_REFUSED, reason=reason, method=request.method, path=request.url.path
        )
