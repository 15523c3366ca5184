"""schedule tables: fire records, pause states and APScheduler's job store

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00

Until this revision the schedule service created these tables itself (``create_all`` under
an advisory lock) when it was first opened, so a database may already have some or all of
them: each table is created only when it is missing, and one that is there is left as it
is (the old ``create_all`` made the same columns).

``schedule_jobs`` is APScheduler 3's ``SQLAlchemyJobStore`` table, written out as that
version defines it (``apscheduler/jobstores/sqlalchemy.py``). The job store still runs its
own ``create(checkfirst=True)`` when a scheduler starts; with the table made here that is
always a no-op, so schedulers starting at once on a fresh PostgreSQL no longer race to
create it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the schedule tables that are not there yet."""
    existing = set(sa.inspect(op.get_bind()).get_table_names())

    if "schedule_fires" not in existing:
        op.create_table(
            "schedule_fires",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("schedule", sa.String(length=200), nullable=False),
            sa.Column("fire_time", sa.DateTime(), nullable=False, comment="UTC"),
            sa.Column("kind", sa.String(length=20), nullable=False),
            sa.Column("status", sa.String(length=20), nullable=False),
            sa.Column("owner", sa.String(length=200), nullable=False),
            sa.Column("started_at", sa.DateTime(), nullable=False),
            sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
            sa.Column("finished_at", sa.DateTime(), nullable=True),
            sa.Column("total", sa.Integer(), nullable=False),
            sa.Column("created", sa.Integer(), nullable=False),
            sa.Column("existed", sa.Integer(), nullable=False),
            sa.Column("rejected", sa.Integer(), nullable=False),
            sa.Column("rejections", sa.Text(), nullable=False),
            sa.Column("message", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("schedule", "fire_time", name="uq_schedule_fires_fire"),
        )

    if "schedule_states" not in existing:
        op.create_table(
            "schedule_states",
            sa.Column("schedule", sa.String(length=200), nullable=False),
            sa.Column("paused", sa.Boolean(), nullable=False),
            sa.Column(
                "file_paused",
                sa.Boolean(),
                nullable=False,
                comment="the file's paused: when ops changed it",
            ),
            sa.Column("changed_by", sa.String(length=200), nullable=False),
            sa.Column("changed_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("schedule"),
        )

    if "schedule_jobs" not in existing:
        op.create_table(
            "schedule_jobs",
            sa.Column("id", sa.Unicode(length=191), nullable=False),
            sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
            sa.Column("job_state", sa.LargeBinary(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_schedule_jobs_next_run_time", "schedule_jobs", ["next_run_time"], unique=False)


def downgrade() -> None:
    """Drop the schedule tables (fire history, pause states and stored jobs are lost)."""
    op.drop_index("ix_schedule_jobs_next_run_time", table_name="schedule_jobs")
    op.drop_table("schedule_jobs")
    op.drop_table("schedule_states")
    op.drop_table("schedule_fires")
