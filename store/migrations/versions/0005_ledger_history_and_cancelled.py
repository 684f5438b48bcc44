"""ledger: attempt history, CANCELLED status, a tenant's steps by creation time

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "status IN ('QUEUED', 'STARTED', 'WAITING', 'SUCCEEDED', 'FAILED')"
_NEW = "status IN ('QUEUED', 'STARTED', 'WAITING', 'SUCCEEDED', 'FAILED', 'CANCELLED')"
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("workflow_action_invocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("history", _JSON, nullable=True))
        batch_op.drop_constraint(op.f("ck_workflow_action_invocations_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_workflow_action_invocations_status"), _NEW)
        batch_op.create_index(
            batch_op.f("ix_workflow_action_invocations_tenant_created_at"),
            ["tenant", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    # Before this revision a cancelled step could only be a final, non-retryable failure.
    op.execute(
        "UPDATE workflow_action_invocations SET status = 'FAILED' WHERE status = 'CANCELLED'"
    )
    with op.batch_alter_table("workflow_action_invocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflow_action_invocations_tenant_created_at"))
        batch_op.drop_constraint(op.f("ck_workflow_action_invocations_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_workflow_action_invocations_status"), _OLD)
        batch_op.drop_column("history")
