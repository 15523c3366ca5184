"""task outcomes: how a person ended a human task, what it offered, postponed until when

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 23:30:00

Every human task now ends with an outcome the person chooses (corrected, done by hand,
rejected, cancelled; postponed puts it back into the queue at a time). ``outcome`` and
``outcome_note`` (the note or business reason) record it; ``outcomes`` keeps what the
workflow's step offered and what the customer is told for each; ``available_at`` is when a
postponed task is due to be worked again. Old tasks keep NULL: their status says enough.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("human_tasks") as batch:
        batch.add_column(sa.Column("outcome", sa.String(20), nullable=True))
        batch.add_column(sa.Column("outcome_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("outcomes", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("available_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("human_tasks") as batch:
        batch.drop_column("available_at")
        batch.drop_column("outcomes")
        batch.drop_column("outcome_note")
        batch.drop_column("outcome")
