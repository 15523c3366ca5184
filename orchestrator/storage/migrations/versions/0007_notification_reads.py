"""notification reads: which callouts and task arrivals each user has read

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 00:15:00

The notification tray lists the callouts a user may see (their queues, or naming them) while
they are still relevant; a row here marks one as read by one user. Unread is the absence of a
row, so a user who signs in later finds what arrived meanwhile unread.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_reads",
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("callout_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["callout_id"], ["callouts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("username", "callout_id"),
    )


def downgrade() -> None:
    op.drop_table("notification_reads")
