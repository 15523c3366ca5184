"""admin events: the audit log of the admin screens

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 23:00:00

Who changed which user, unit, queue, channel token, vault entry or schedule, when, from the
control room's admin screens (``orchestrator.humans.administration``). Append-only; it never holds a
password, token or vault value.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_admin_events_at", "admin_events", ["at"])
    op.create_index("ix_admin_events_actor", "admin_events", ["actor"])


def downgrade() -> None:
    op.drop_index("ix_admin_events_actor", table_name="admin_events")
    op.drop_index("ix_admin_events_at", table_name="admin_events")
    op.drop_table("admin_events")
