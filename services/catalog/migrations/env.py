"""Alembic environment for catalog (shared logic lives in the chassis)."""

from agora_catalog.models import Base
from agora_chassis.migrations import run_migrations

run_migrations(Base.metadata)
