"""user preferences: each user's language and time zone for the control room

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 00:15:00

A user chooses German or English and a time zone in the control room's header; NULL means
the browser's language and the server's default time zone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(10), nullable=True))
        batch.add_column(sa.Column("time_zone", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("time_zone")
        batch.drop_column("language")
