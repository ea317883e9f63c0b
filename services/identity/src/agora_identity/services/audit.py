"""Recording authentication events in the audit log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from agora_identity.models import AuditEntry, AuditEvent
from agora_identity.repositories.audit import AuditRepository


@dataclass(frozen=True)
class RequestContext:
    """Who is asking, as far as the audit log cares.

    Attributes:
        client_ip: The caller's address.
        actor_id: The authenticated user making the change, if any.
    """

    client_ip: str | None = None
    actor_id: uuid.UUID | None = None


@dataclass
class Auditor:
    """Writes audit entries in the current transaction."""

    repository: AuditRepository
    context: RequestContext = field(default_factory=RequestContext)

    async def record(
        self,
        event: AuditEvent,
        *,
        user_id: uuid.UUID | None = None,
        email: str | None = None,
        **details: Any,
    ) -> None:
        """Store one audit entry.

        Args:
            event: What happened.
            user_id: The account it happened to.
            email: The e-mail presented (for failed logins of unknown accounts).
            **details: Extra JSON-serialisable facts (never secrets).
        """
        await self.repository.add(
            AuditEntry(
                event=event,
                user_id=user_id,
                actor_id=self.context.actor_id,
                email=email,
                client_ip=self.context.client_ip,
                details=details,
            )
        )
