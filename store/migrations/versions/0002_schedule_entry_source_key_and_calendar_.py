"""schedule entry source key and calendar event links

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "calendar_event_links",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("external_event_id", sa.String(length=512), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant", "connection_id"],
            ["calendar_connections.tenant", "calendar_connections.connection_id"],
            name=op.f("fk_calendar_event_links_tenant_connection_id_calendar_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant", "entry_id"],
            ["schedule_entries.tenant", "schedule_entries.entry_id"],
            name=op.f("fk_calendar_event_links_tenant_entry_id_schedule_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant", "entry_id", "connection_id", name=op.f("pk_calendar_event_links")
        ),
    )
    with op.batch_alter_table("schedule_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_key", sa.String(length=512), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_schedule_entries_tenant_source_key"), ["tenant", "source_key"]
        )


def downgrade() -> None:

    with op.batch_alter_table("schedule_entries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_schedule_entries_tenant_source_key"), type_="unique"
        )
        batch_op.drop_column("source_key")

    op.drop_table("calendar_event_links")
