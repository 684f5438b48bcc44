"""tickets store: notes, links, dedupe, counters

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "tenant_counters",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_tenant_counters_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "name", name=op.f("pk_tenant_counters")),
    )
    op.create_table(
        "ticket_links",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("sync_close", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant", "ticket_id"],
            ["tickets.tenant", "tickets.ticket_id"],
            name=op.f("fk_ticket_links_tenant_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant", "ticket_id", "kind", "provider", "external_id", name=op.f("pk_ticket_links")
        ),
    )
    op.create_table(
        "ticket_notes",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("note_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("is_internal", sa.Boolean(), nullable=False),
        sa.Column("truncated_chars", sa.Integer(), nullable=False),
        sa.Column("source_key", sa.String(length=512), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant", "ticket_id"],
            ["tickets.tenant", "tickets.ticket_id"],
            name=op.f("fk_ticket_notes_tenant_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "note_id", name=op.f("pk_ticket_notes")),
        sa.UniqueConstraint("tenant", "source_key", name=op.f("uq_ticket_notes_tenant_source_key")),
    )
    with op.batch_alter_table("ticket_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticket_notes_tenant_ticket_id_created_at"),
            ["tenant", "ticket_id", "created_at"],
            unique=False,
        )

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("priority", sa.String(length=16), server_default="medium", nullable=False)
        )
        batch_op.add_column(sa.Column("board", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("assignee_user_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("source_key", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("resolution", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("close_key", sa.String(length=512), nullable=True))
        batch_op.create_index(
            "uq_tickets_open_dedupe_key",
            ["tenant", "dedupe_key"],
            unique=True,
            postgresql_where=sa.text("closed_at IS NULL AND dedupe_key IS NOT NULL"),
            sqlite_where=sa.text("closed_at IS NULL AND dedupe_key IS NOT NULL"),
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_tickets_tenant_source_key"), ["tenant", "source_key"]
        )


def downgrade() -> None:

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_tickets_tenant_source_key"), type_="unique")
        batch_op.drop_index(
            "uq_tickets_open_dedupe_key",
            postgresql_where=sa.text("closed_at IS NULL AND dedupe_key IS NOT NULL"),
            sqlite_where=sa.text("closed_at IS NULL AND dedupe_key IS NOT NULL"),
        )
        batch_op.drop_column("close_key")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("resolution")
        batch_op.drop_column("source_key")
        batch_op.drop_column("dedupe_key")
        batch_op.drop_column("assignee_user_id")
        batch_op.drop_column("board")
        batch_op.drop_column("priority")
        batch_op.drop_column("description")

    with op.batch_alter_table("ticket_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_notes_tenant_ticket_id_created_at"))

    op.drop_table("ticket_notes")
    op.drop_table("ticket_links")
    op.drop_table("tenant_counters")
