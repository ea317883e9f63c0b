"""recipients (user id, e-mail, name) and the order id of notifications (unique per template)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 17:40:25.305191
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``recipients``; notifications name their order, one per order and template."""
    op.create_table(
        "recipients",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_recipients")),
    )
    op.add_column("notifications", sa.Column("order_id", sa.Uuid(), nullable=True))
    op.create_unique_constraint(
        op.f("uq_notifications_order_id"), "notifications", ["order_id", "template"]
    )


def downgrade() -> None:
    """Drop ``recipients`` and the order id of notifications."""
    op.drop_constraint(op.f("uq_notifications_order_id"), "notifications", type_="unique")
    op.drop_column("notifications", "order_id")
    op.drop_table("recipients")
