"""Alembic environment for notification (shared logic lives in the chassis)."""

from agora_chassis.migrations import run_migrations
from agora_notification.models import Base

run_migrations(Base.metadata)
