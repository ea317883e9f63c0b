"""Identity's SQLAlchemy models."""

from agora_identity.models.audit import AuditEntry, AuditEvent
from agora_identity.models.base import Base, OutboxMessage
from agora_identity.models.token import RefreshToken
from agora_identity.models.user import Role, User

__all__ = ["AuditEntry", "AuditEvent", "Base", "OutboxMessage", "RefreshToken", "Role", "User"]
