"""notification reads and robot step times: the tray's read marks; when a robot's step began

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 00:15:00

The notification tray lists the callouts a user may see (their queues, or naming them) while
they are still relevant; a row here marks one as read by one user. Unread is the absence of a
row, so a user who signs in later finds what arrived meanwhile unread.

``robots.step_started_at`` says since when a robot is at its current step, so the ops
dashboard shows "appointment_failed: step `book` 3 s".
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
    with op.batch_alter_table("robots") as batch:
        batch.add_column(sa.Column("step_started_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("robots") as batch:
        batch.drop_column("step_started_at")
    op.drop_table("notification_reads")
