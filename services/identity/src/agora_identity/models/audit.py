"""The audit log of authentication events."""

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from agora_chassis.db import UUIDPrimaryKey, utcnow
from agora_identity.models.base import Base

EVENT_LENGTH = 40
ADDRESS_LENGTH = 64
EMAIL_LENGTH = 320


class AuditEvent(StrEnum):
    """What can be audited."""

    REGISTERED = "registered"
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGIN_RATE_LIMITED = "login_rate_limited"
    TOKEN_REFRESHED = "token_refreshed"  # noqa: S105 - an event name
    REFRESH_REFUSED = "refresh_refused"
    REFRESH_REUSE_DETECTED = "refresh_reuse_detected"
    LOGGED_OUT = "logged_out"
    USER_UPDATED = "user_updated"
    ROLES_CHANGED = "roles_changed"
    ACCESS_REFUSED = "access_refused"
    SERVICE_TOKEN_ISSUED = "service_token_issued"  # noqa: S105 - an event name
    SERVICE_TOKEN_REFUSED = "service_token_refused"  # noqa: S105 - an event name


class AuditEntry(UUIDPrimaryKey, Base):
    """One audited event; refusals are kept even though their request fails."""

    __tablename__ = "audit_log"

    event: Mapped[str] = mapped_column(String(EVENT_LENGTH), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    actor_id: Mapped[uuid.UUID | None]
    email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))
    client_ip: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
