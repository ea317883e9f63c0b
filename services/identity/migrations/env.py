"""Alembic environment for identity (shared logic lives in the chassis)."""

from agora_chassis.migrations import run_migrations
from agora_identity.models import Base

run_migrations(Base.metadata)
