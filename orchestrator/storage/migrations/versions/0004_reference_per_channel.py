"""references unique per workflow and channel, not per workflow

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 23:30:00

A reference was unique per workflow: any token allowed to start a workflow that posted
another channel's reference got that channel's case (id and status), and posting it first
squatted the other channel's future reference. Now the key is (workflow, channel,
reference); cases without a channel (made by the store's callers directly) share the
channel ''.

SQLite cannot drop a table's constraint, so there the table is rebuilt (Alembic's batch
mode). Its reflection skips expression indexes, so the claim order index is dropped before
and made again after. ``migrations/env.py`` turns SQLite's foreign keys off for the
migration (dropping the old table would fail on the rows that point at it) and checks them
after; the rebuilt table has the same ids.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CLAIM_ORDER: list[str | sa.TextClause] = [
    "status",
    sa.text("priority DESC"),
    sa.text("(deadline IS NULL)"),
    "deadline",
    "created_at",
    "id",
]


def _per_channel_index() -> None:
    op.create_index(
        "uq_cases_workflow_channel_reference",
        "cases",
        ["workflow", sa.text("coalesce(channel, '')"), "reference"],
        unique=True,
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_cases_claim_order", table_name="cases")
        with op.batch_alter_table("cases", recreate="always") as batch:
            batch.drop_constraint("uq_cases_workflow_reference", type_="unique")
        op.create_index("ix_cases_claim_order", "cases", CLAIM_ORDER, unique=False)
    else:
        op.drop_constraint("uq_cases_workflow_reference", "cases", type_="unique")
    _per_channel_index()


def downgrade() -> None:
    op.drop_index("uq_cases_workflow_channel_reference", table_name="cases")
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_cases_claim_order", table_name="cases")
        with op.batch_alter_table("cases", recreate="always") as batch:
            batch.create_unique_constraint("uq_cases_workflow_reference", ["workflow", "reference"])
        op.create_index("ix_cases_claim_order", "cases", CLAIM_ORDER, unique=False)
    else:
        op.create_unique_constraint("uq_cases_workflow_reference", "cases", ["workflow", "reference"])
