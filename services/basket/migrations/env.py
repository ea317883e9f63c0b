"""Alembic environment for basket (shared logic lives in the chassis)."""

from agora_basket.models import Base
from agora_chassis.migrations import run_migrations

run_migrations(Base.metadata)
