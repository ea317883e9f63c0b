"""The audit log of authentication events."""

import uuid
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from agora_chassis.audit import AuditMixin
from agora_identity.models.base import Base

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


class AuditEntry(AuditMixin, Base):
    """One audited event; refusals are kept even though their request fails.

    The chassis columns (event, actor, address, details, time) plus the account it happened to and
    the e-mail presented.
    """

    __tablename__ = "audit_log"

    user_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))
