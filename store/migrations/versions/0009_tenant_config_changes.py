"""tenant config changes: a version of each tenant's connections and secrets, kept by triggers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

Workers remember a tenant's connection rows and secrets while its version (the
newest ``change_id``) stands; the triggers make every write count, whichever
code (or person, in psql) makes it. An update of ``rmm_integrations`` that only
records a sync (``last_sync_at``, ``sync_status``, ...) changes nothing a step
reads, and is not counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a step reads of a connection (``catalog.rmm.rmm_connection`` and availability).
RMM_COLUMNS = "provider, instance_url, is_active, connected_at, settings"
WATCHED = {"rmm_integrations": f"UPDATE OF {RMM_COLUMNS}", "tenant_secrets": "UPDATE"}


def upgrade() -> None:
    op.create_table(
        "tenant_config_changes",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("change_id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "change_id", name=op.f("pk_tenant_config_changes")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION patchbay_config_changed() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    INSERT INTO tenant_config_changes (tenant) VALUES (OLD.tenant);
                ELSE
                    INSERT INTO tenant_config_changes (tenant) VALUES (NEW.tenant);
                END IF;
                RETURN NULL;
            END
            $$
            """
        )
        for table, update in WATCHED.items():
            op.execute(
                f"CREATE TRIGGER {table}_config_changed "
                f"AFTER INSERT OR DELETE OR {update} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION patchbay_config_changed()"
            )
        return
    # SQLite: one writer at a time, so the next number is the largest plus one.
    for table, update in WATCHED.items():
        for event, row in (("INSERT", "NEW"), (update, "NEW"), ("DELETE", "OLD")):
            name = f"{table}_config_changed_{event.split()[0].lower()}"
            # Built from this module's constants only.
            ddl = (
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN "  # noqa: S608
                "INSERT INTO tenant_config_changes (tenant, change_id) VALUES "
                f"({row}.tenant, (SELECT coalesce(max(change_id), 0) + 1 "
                "FROM tenant_config_changes)); END"
            )
            op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_config_changed ON {table}")
        op.execute("DROP FUNCTION IF EXISTS patchbay_config_changed()")
    else:
        for table in WATCHED:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_config_changed_{event}")
    op.drop_table("tenant_config_changes")
