"""Alembic environment for payment (shared logic lives in the chassis)."""

from agora_chassis.migrations import run_migrations
from agora_payment.models import Base

run_migrations(Base.metadata)
