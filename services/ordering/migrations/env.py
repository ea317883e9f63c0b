"""Alembic environment for ordering (shared logic lives in the chassis)."""

from agora_chassis.migrations import run_migrations
from agora_ordering.models import Base

run_migrations(Base.metadata)
