"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "tenants",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", name=op.f("pk_tenants")),
    )
    op.create_table(
        "assets",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("asset_type", sa.String(length=64), nullable=False),
        sa.Column("asset_tag", sa.String(length=255), nullable=True),
        sa.Column("serial_number", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("rmm_provider", sa.String(length=50), nullable=True),
        sa.Column("rmm_device_id", sa.String(length=255), nullable=True),
        sa.Column("rmm_organization_id", sa.String(length=255), nullable=True),
        sa.Column("agent_status", sa.String(length=32), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attributes", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_assets_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "asset_id", name=op.f("pk_assets")),
        sa.UniqueConstraint(
            "tenant",
            "rmm_provider",
            "rmm_device_id",
            name=op.f("uq_assets_tenant_rmm_provider_rmm_device_id"),
        ),
    )
    op.create_table(
        "calendar_connections",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("calendar_id", sa.String(length=512), nullable=True),
        sa.Column("external_account", sa.String(length=320), nullable=True),
        sa.Column("sync_direction", sa.String(length=32), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "sync_direction IN ('to_external', 'from_external', 'bidirectional')",
            name=op.f("ck_calendar_connections_sync_direction"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_calendar_connections_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "connection_id", name=op.f("pk_calendar_connections")),
        sa.UniqueConstraint(
            "tenant",
            "user_id",
            "provider",
            name=op.f("uq_calendar_connections_tenant_user_id_provider"),
        ),
    )
    op.create_table(
        "domain_event_outbox",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=128), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_domain_event_outbox_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "event_id", name=op.f("pk_domain_event_outbox")),
    )
    with op.batch_alter_table("domain_event_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_domain_event_outbox_published_at_created_at"),
            ["published_at", "created_at"],
            unique=False,
        )

    op.create_table(
        "microsoft_profiles",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("profile_id", sa.Uuid(), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("tenant_id_aad", sa.String(length=255), nullable=True),
        sa.Column("client_secret_ref", sa.String(length=128), nullable=True),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_microsoft_profiles_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "profile_id", name=op.f("pk_microsoft_profiles")),
    )
    op.create_table(
        "project_tasks",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("task_name", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_project_tasks_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "task_id", name=op.f("pk_project_tasks")),
    )
    op.create_table(
        "rmm_integrations",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("integration_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("instance_url", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_full_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_incremental_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sync_status", sa.String(length=20), nullable=False),
        sa.Column("sync_error", sa.Text(), nullable=True),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_rmm_integrations_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "integration_id", name=op.f("pk_rmm_integrations")),
        sa.UniqueConstraint("tenant", "provider", name=op.f("uq_rmm_integrations_tenant_provider")),
    )
    with op.batch_alter_table("rmm_integrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rmm_integrations_tenant_is_active"),
            ["tenant", "is_active"],
            unique=False,
        )

    op.create_table(
        "roles",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("role_id", sa.Uuid(), nullable=False),
        sa.Column("role_name", sa.String(length=255), nullable=False),
        sa.Column("msp", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"], ["tenants.tenant"], name=op.f("fk_roles_tenant_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant", "role_id", name=op.f("pk_roles")),
        sa.UniqueConstraint("tenant", "role_name", name=op.f("uq_roles_tenant_role_name")),
    )
    op.create_table(
        "schedule_conflicts",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("conflict_id", sa.Uuid(), nullable=False),
        sa.Column("entry_id_1", sa.Uuid(), nullable=False),
        sa.Column("entry_id_2", sa.Uuid(), nullable=False),
        sa.Column("conflict_type", sa.String(length=32), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_schedule_conflicts_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "conflict_id", name=op.f("pk_schedule_conflicts")),
    )
    op.create_table(
        "schedule_entries",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("work_item_id", sa.Uuid(), nullable=True),
        sa.Column("work_item_type", sa.String(length=32), nullable=False),
        sa.Column("scheduled_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scheduled_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("is_private", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "scheduled_start < scheduled_end", name=op.f("ck_schedule_entries_window_order")
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_schedule_entries_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "entry_id", name=op.f("pk_schedule_entries")),
    )
    with op.batch_alter_table("schedule_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_schedule_entries_tenant_scheduled_start_scheduled_end"),
            ["tenant", "scheduled_start", "scheduled_end"],
            unique=False,
        )

    op.create_table(
        "teams_conversation_references",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("microsoft_user_id", sa.String(length=255), nullable=False),
        sa.Column("conversation_id", sa.String(length=512), nullable=False),
        sa.Column("conversation_type", sa.String(length=32), nullable=False),
        sa.Column("service_url", sa.String(length=512), nullable=False),
        sa.Column("tenant_id_aad", sa.String(length=255), nullable=True),
        sa.Column("channel_id_bot_framework", sa.String(length=64), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("context", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_teams_conversation_references_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant",
            "microsoft_user_id",
            "conversation_id",
            name=op.f("pk_teams_conversation_references"),
        ),
    )
    op.create_table(
        "tenant_addons",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("addon_key", sa.String(length=64), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_tenant_addons_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "addon_key", name=op.f("pk_tenant_addons")),
    )
    op.create_table(
        "tenant_secrets",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_tenant_secrets_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "name", name=op.f("pk_tenant_secrets")),
    )
    op.create_table(
        "tickets",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_number", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_tickets_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "ticket_id", name=op.f("pk_tickets")),
        sa.UniqueConstraint(
            "tenant", "ticket_number", name=op.f("uq_tickets_tenant_ticket_number")
        ),
    )
    op.create_table(
        "users",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("first_name", sa.String(length=255), nullable=True),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("user_type", sa.String(length=32), nullable=False),
        sa.Column("is_inactive", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"], ["tenants.tenant"], name=op.f("fk_users_tenant_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant", "user_id", name=op.f("pk_users")),
        sa.UniqueConstraint("tenant", "username", name=op.f("uq_users_tenant_username")),
    )
    op.create_table(
        "workflow_action_invocations",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("invocation_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=512), nullable=False),
        sa.Column("run_id", sa.String(length=255), nullable=True),
        sa.Column("step_path", sa.String(length=512), nullable=True),
        sa.Column("action_id", sa.String(length=255), nullable=False),
        sa.Column("action_version", sa.Integer(), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("input_json", JSON, nullable=True),
        sa.Column("output_json", JSON, nullable=True),
        sa.Column("error_json", JSON, nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("wait_state", JSON, nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('STARTED', 'WAITING', 'SUCCEEDED', 'FAILED')",
            name=op.f("ck_workflow_action_invocations_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_workflow_action_invocations_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant", "invocation_id", name=op.f("pk_workflow_action_invocations")
        ),
        sa.UniqueConstraint(
            "tenant",
            "idempotency_key",
            name=op.f("uq_workflow_action_invocations_tenant_idempotency_key"),
        ),
    )
    with op.batch_alter_table("workflow_action_invocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_workflow_action_invocations_tenant_run_id_step_path"),
            ["tenant", "run_id", "step_path"],
            unique=False,
        )

    op.create_table(
        "rmm_alerts",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("integration_id", sa.Uuid(), nullable=False),
        sa.Column("external_alert_id", sa.String(length=255), nullable=False),
        sa.Column("external_device_id", sa.String(length=255), nullable=True),
        sa.Column("asset_id", sa.Uuid(), nullable=True),
        sa.Column("severity", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.String(length=32), nullable=True),
        sa.Column("activity_type", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("source_type", sa.String(length=64), nullable=True),
        sa.Column("source_data", JSON, nullable=False),
        sa.Column("triggered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant", "integration_id"],
            ["rmm_integrations.tenant", "rmm_integrations.integration_id"],
            name=op.f("fk_rmm_alerts_tenant_integration_id_rmm_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "alert_id", name=op.f("pk_rmm_alerts")),
        sa.UniqueConstraint(
            "tenant",
            "integration_id",
            "external_alert_id",
            name=op.f("uq_rmm_alerts_tenant_integration_id_external_alert_id"),
        ),
    )
    with op.batch_alter_table("rmm_alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rmm_alerts_tenant_status_triggered_at"),
            ["tenant", "status", "triggered_at"],
            unique=False,
        )

    op.create_table(
        "schedule_entry_assignees",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant", "entry_id"],
            ["schedule_entries.tenant", "schedule_entries.entry_id"],
            name=op.f("fk_schedule_entry_assignees_tenant_entry_id_schedule_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant", "user_id"],
            ["users.tenant", "users.user_id"],
            name=op.f("fk_schedule_entry_assignees_tenant_user_id_users"),
        ),
        sa.PrimaryKeyConstraint(
            "tenant", "entry_id", "user_id", name=op.f("pk_schedule_entry_assignees")
        ),
    )
    with op.batch_alter_table("schedule_entry_assignees", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_schedule_entry_assignees_tenant_user_id"),
            ["tenant", "user_id"],
            unique=False,
        )

    op.create_table(
        "teams_integrations",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("selected_profile_id", sa.Uuid(), nullable=True),
        sa.Column("install_status", sa.String(length=32), nullable=False),
        sa.Column("enabled_capabilities", JSON, nullable=False),
        sa.Column("notification_categories", JSON, nullable=False),
        sa.Column("allowed_actions", JSON, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("app_id", sa.String(length=255), nullable=True),
        sa.Column("bot_id", sa.String(length=255), nullable=True),
        sa.Column("package_metadata", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "install_status IN ('not_configured', 'install_pending', 'active', 'error')",
            name=op.f("ck_teams_integrations_install_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant", "selected_profile_id"],
            ["microsoft_profiles.tenant", "microsoft_profiles.profile_id"],
            name=op.f("fk_teams_integrations_tenant_selected_profile_id_microsoft_profiles"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.tenant"],
            name=op.f("fk_teams_integrations_tenant_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", name=op.f("pk_teams_integrations")),
    )
    op.create_table(
        "user_auth_accounts",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("provider_account_id", sa.String(length=255), nullable=False),
        sa.Column("provider_email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant", "user_id"],
            ["users.tenant", "users.user_id"],
            name=op.f("fk_user_auth_accounts_tenant_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant", "user_id", "provider", name=op.f("pk_user_auth_accounts")
        ),
    )
    op.create_table(
        "user_roles",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant", "role_id"],
            ["roles.tenant", "roles.role_id"],
            name=op.f("fk_user_roles_tenant_role_id_roles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant", "user_id"],
            ["users.tenant", "users.user_id"],
            name=op.f("fk_user_roles_tenant_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", "user_id", "role_id", name=op.f("pk_user_roles")),
    )


def downgrade() -> None:

    op.drop_table("user_roles")
    op.drop_table("user_auth_accounts")
    op.drop_table("teams_integrations")
    with op.batch_alter_table("schedule_entry_assignees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_entry_assignees_tenant_user_id"))

    op.drop_table("schedule_entry_assignees")
    with op.batch_alter_table("rmm_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rmm_alerts_tenant_status_triggered_at"))

    op.drop_table("rmm_alerts")
    with op.batch_alter_table("workflow_action_invocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflow_action_invocations_tenant_run_id_step_path"))

    op.drop_table("workflow_action_invocations")
    op.drop_table("users")
    op.drop_table("tickets")
    op.drop_table("tenant_secrets")
    op.drop_table("tenant_addons")
    op.drop_table("teams_conversation_references")
    with op.batch_alter_table("schedule_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_entries_tenant_scheduled_start_scheduled_end"))

    op.drop_table("schedule_entries")
    op.drop_table("schedule_conflicts")
    op.drop_table("roles")
    with op.batch_alter_table("rmm_integrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rmm_integrations_tenant_is_active"))

    op.drop_table("rmm_integrations")
    op.drop_table("project_tasks")
    op.drop_table("microsoft_profiles")
    with op.batch_alter_table("domain_event_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_domain_event_outbox_published_at_created_at"))

    op.drop_table("domain_event_outbox")
    op.drop_table("calendar_connections")
    op.drop_table("assets")
    op.drop_table("tenants")
