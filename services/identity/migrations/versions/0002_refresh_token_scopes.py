"""refresh tokens keep the scopes granted at login

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 00:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: tokens issued before this revision have no stored scopes (see AuthService.refresh).
    op.add_column("refresh_tokens", sa.Column("scopes", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("refresh_tokens", "scopes")
