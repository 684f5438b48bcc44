"""ledger: QUEUED status, re-drive bookkeeping, sweeper indexes, executor locks

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "status IN ('STARTED', 'WAITING', 'SUCCEEDED', 'FAILED')"
_NEW = "status IN ('QUEUED', 'STARTED', 'WAITING', 'SUCCEEDED', 'FAILED')"


def upgrade() -> None:
    op.create_table(
        "executor_locks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_executor_locks")),
    )
    with op.batch_alter_table("workflow_action_invocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redriven_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f("ck_workflow_action_invocations_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_workflow_action_invocations_status"), _NEW)
        batch_op.create_index(
            batch_op.f("ix_workflow_action_invocations_status_lease_expires_at"),
            ["status", "lease_expires_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_workflow_action_invocations_status_next_check_at"),
            ["status", "next_check_at"],
            unique=False,
        )


def downgrade() -> None:
    op.execute(
        "UPDATE workflow_action_invocations SET status = 'WAITING', "
        "next_check_at = created_at WHERE status = 'QUEUED'"
    )
    with op.batch_alter_table("workflow_action_invocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflow_action_invocations_status_next_check_at"))
        batch_op.drop_index(batch_op.f("ix_workflow_action_invocations_status_lease_expires_at"))
        batch_op.drop_constraint(op.f("ck_workflow_action_invocations_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_workflow_action_invocations_status"), _OLD)
        batch_op.drop_column("redriven_at")
    op.drop_table("executor_locks")
