"""claim order index: the next queued case without sorting the queue

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:00:00

``ix_cases_claim`` (status, priority, deadline, created_at) could not serve the claim's
order (priority descending, deadline ascending with none last): every claim sorted all
queued cases, about 1 ms per claim with 2,000 queued on SQLite. The new index is in exactly
the claim's order, ``(deadline IS NULL)`` standing for "none last".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_cases_claim", table_name="cases")
    op.create_index(
        "ix_cases_claim_order",
        "cases",
        [
            "status",
            sa.text("priority DESC"),
            sa.text("(deadline IS NULL)"),
            "deadline",
            "created_at",
            "id",
        ],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_cases_claim_order", table_name="cases")
    op.create_index("ix_cases_claim", "cases", ["status", "priority", "deadline", "created_at"], unique=False)
