"""The store's tables as typed SQLAlchemy models.

Every table is tenant-scoped and carries the tenant in its primary key, so a
query that forgets the tenant cannot silently read across tenants by key.
Column names follow the reference implementation where it has the table
(``reference/alga-framework.md`` §6-8), so facts about it carry over.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.types import JsonType, UtcDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TEAMS_INSTALL_STATUSES = ("not_configured", "install_pending", "active", "error")
INVOCATION_STATUSES = ("QUEUED", "STARTED", "WAITING", "SUCCEEDED", "FAILED", "CANCELLED")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _tenant_fk() -> Any:
    return ForeignKey("tenants.tenant", ondelete="CASCADE")


def _created() -> Mapped[datetime]:
    return mapped_column(UtcDateTime, nullable=False, default=utcnow)


def _updated() -> Mapped[datetime]:
    return mapped_column(UtcDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class Tenant(Base):
    __tablename__ = "tenants"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = _created()


class User(Base):
    __tablename__ = "users"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(255), nullable=False)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    user_type: Mapped[str] = mapped_column(String(32), nullable=False, default="internal")
    is_inactive: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (UniqueConstraint("tenant", "username"),)


class Role(Base):
    __tablename__ = "roles"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    role_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    role_name: Mapped[str] = mapped_column(String(255), nullable=False)
    msp: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = _created()

    __table_args__ = (UniqueConstraint("tenant", "role_name"),)


class UserRole(Base):
    __tablename__ = "user_roles"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    role_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    created_at: Mapped[datetime] = _created()

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant", "user_id"], ["users.tenant", "users.user_id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant", "role_id"], ["roles.tenant", "roles.role_id"], ondelete="CASCADE"
        ),
    )


class UserAuthAccount(Base):
    """A user's account at an external identity provider (e.g. their Microsoft id)."""

    __tablename__ = "user_auth_accounts"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    provider: Mapped[str] = mapped_column(String(50), primary_key=True)
    provider_account_id: Mapped[str] = mapped_column(String(255), nullable=False)
    provider_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant", "user_id"], ["users.tenant", "users.user_id"], ondelete="CASCADE"
        ),
    )


class RmmIntegration(Base):
    """One RMM/security vendor connection per (tenant, provider)."""

    __tablename__ = "rmm_integrations"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    integration_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    provider: Mapped[str] = mapped_column(String(50), nullable=False)
    instance_url: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    connected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_sync_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_full_sync_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_incremental_sync_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sync_status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    sync_error: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(JsonType, nullable=False, default=dict)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        UniqueConstraint("tenant", "provider"),
        Index(None, "tenant", "is_active"),
    )


class TenantSecret(Base):
    """An encrypted tenant secret. ``ciphertext`` never holds the plain value."""

    __tablename__ = "tenant_secrets"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class TenantAddon(Base):
    __tablename__ = "tenant_addons"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    addon_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    activated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # "metadata" is reserved by SQLAlchemy's declarative base.
    addon_metadata: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JsonType, nullable=False, default=dict
    )


class MicrosoftProfile(Base):
    """An Entra ID app registration a tenant uses for Teams and Graph."""

    __tablename__ = "microsoft_profiles"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    profile_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    display_name: Mapped[str] = mapped_column(String(255), nullable=False)
    client_id: Mapped[str] = mapped_column(String(255), nullable=False)
    tenant_id_aad: Mapped[str | None] = mapped_column(String(255))
    # Name of the tenant secret holding the client secret, never the secret itself.
    client_secret_ref: Mapped[str | None] = mapped_column(String(128))
    is_archived: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class TeamsIntegration(Base):
    __tablename__ = "teams_integrations"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    selected_profile_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    install_status: Mapped[str] = mapped_column(
        String(32), nullable=False, default="not_configured"
    )
    enabled_capabilities: Mapped[list[str]] = mapped_column(JsonType, nullable=False, default=list)
    notification_categories: Mapped[list[str]] = mapped_column(
        JsonType, nullable=False, default=list
    )
    allowed_actions: Mapped[list[str]] = mapped_column(JsonType, nullable=False, default=list)
    last_error: Mapped[str | None] = mapped_column(Text)
    app_id: Mapped[str | None] = mapped_column(String(255))
    bot_id: Mapped[str | None] = mapped_column(String(255))
    package_metadata: Mapped[dict[str, Any]] = mapped_column(JsonType, nullable=False, default=dict)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        CheckConstraint(
            "install_status IN ('not_configured', 'install_pending', 'active', 'error')",
            name="install_status",
        ),
        ForeignKeyConstraint(
            ["tenant", "selected_profile_id"],
            ["microsoft_profiles.tenant", "microsoft_profiles.profile_id"],
        ),
    )


class TeamsConversationReference(Base):
    """Where the bot can reach a Microsoft user proactively (set when they open the bot)."""

    __tablename__ = "teams_conversation_references"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    microsoft_user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    conversation_type: Mapped[str] = mapped_column(String(32), nullable=False, default="personal")
    service_url: Mapped[str] = mapped_column(String(512), nullable=False)
    tenant_id_aad: Mapped[str | None] = mapped_column(String(255))
    channel_id_bot_framework: Mapped[str | None] = mapped_column(String(64))
    last_activity_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    context: Mapped[dict[str, Any]] = mapped_column(JsonType, nullable=False, default=dict)


class Ticket(Base):
    """A ticket of patchbay's minimal ticket store (core ``tickets.*`` actions).

    ``dedupe_key``: at most one *open* ticket per key (a partial unique
    index), so an alert storm opens one ticket. ``source_key``: the step that
    created it, so a re-run of that step finds it instead of making another.
    """

    __tablename__ = "tickets"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    ticket_number: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(512), nullable=False)
    status: Mapped[str] = mapped_column(String(64), nullable=False, default="open")
    asset_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    description: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(
        String(16), nullable=False, default="medium", server_default="medium"
    )
    board: Mapped[str | None] = mapped_column(String(255))
    assignee_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    dedupe_key: Mapped[str | None] = mapped_column(String(255))
    source_key: Mapped[str | None] = mapped_column(String(512))
    resolution: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The step that closed it: a re-run of that step answers as the first run did.
    close_key: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        UniqueConstraint("tenant", "ticket_number"),
        UniqueConstraint("tenant", "source_key"),
        Index(
            "uq_tickets_open_dedupe_key",
            "tenant",
            "dedupe_key",
            unique=True,
            postgresql_where=text("closed_at IS NULL AND dedupe_key IS NOT NULL"),
            sqlite_where=text("closed_at IS NULL AND dedupe_key IS NOT NULL"),
        ),
    )


class TicketNote(Base):
    """A note on a ticket; ``truncated_chars`` says how much of an over-long text was cut."""

    __tablename__ = "ticket_notes"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    note_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    is_internal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    truncated_chars: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    source_key: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = _created()

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant", "ticket_id"], ["tickets.tenant", "tickets.ticket_id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant", "source_key"),
        Index(None, "tenant", "ticket_id", "created_at"),
    )


class TicketLink(Base):
    """What a ticket is about at a vendor: an RMM alert or a Huntress incident.

    ``sync_close``: closing the ticket writes an outbox event that resolves
    the vendor's side (alert reset or resolve, incident resolve) once.
    """

    __tablename__ = "ticket_links"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    provider: Mapped[str] = mapped_column(String(50), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    sync_close: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = _created()

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant", "ticket_id"], ["tickets.tenant", "tickets.ticket_id"], ondelete="CASCADE"
        ),
    )


class ApiToken(Base):
    """A tenant-scoped API token: ``token_hash`` is its SHA-256, the token is never stored."""

    __tablename__ = "api_tokens"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    token_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    scope: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = _created()
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint("scope IN ('read', 'run', 'admin')", name="scope"),)


class TenantCounter(Base):
    """A per-tenant sequence (``tickets``: the next ticket number), bumped in one UPDATE."""

    __tablename__ = "tenant_counters"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class ProjectTask(Base):
    __tablename__ = "project_tasks"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    task_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    task_name: Mapped[str] = mapped_column(String(512), nullable=False)
    status: Mapped[str] = mapped_column(String(64), nullable=False, default="open")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Asset(Base):
    """A local mirror of a managed device; the RMM modules read and upsert it."""

    __tablename__ = "assets"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    asset_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    asset_type: Mapped[str] = mapped_column(String(64), nullable=False, default="workstation")
    asset_tag: Mapped[str | None] = mapped_column(String(255))
    serial_number: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(64), nullable=False, default="active")
    rmm_provider: Mapped[str | None] = mapped_column(String(50))
    rmm_device_id: Mapped[str | None] = mapped_column(String(255))
    rmm_organization_id: Mapped[str | None] = mapped_column(String(255))
    agent_status: Mapped[str | None] = mapped_column(String(32))
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonType, nullable=False, default=dict)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        # One local asset per vendor device: what makes a device sync an upsert.
        UniqueConstraint("tenant", "rmm_provider", "rmm_device_id"),
    )


class RmmAlert(Base):
    """A local mirror of a vendor alert."""

    __tablename__ = "rmm_alerts"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    alert_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    integration_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    external_alert_id: Mapped[str] = mapped_column(String(255), nullable=False)
    external_device_id: Mapped[str | None] = mapped_column(String(255))
    asset_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    severity: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[str | None] = mapped_column(String(32))
    activity_type: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), nullable=False, default="active")
    message: Mapped[str | None] = mapped_column(Text)
    source_type: Mapped[str | None] = mapped_column(String(64))
    source_data: Mapped[dict[str, Any]] = mapped_column(JsonType, nullable=False, default=dict)
    triggered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        UniqueConstraint("tenant", "integration_id", "external_alert_id"),
        ForeignKeyConstraint(
            ["tenant", "integration_id"],
            ["rmm_integrations.tenant", "rmm_integrations.integration_id"],
            ondelete="CASCADE",
        ),
        Index(None, "tenant", "status", "triggered_at"),
    )


class ScheduleEntry(Base):
    __tablename__ = "schedule_entries"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(512), nullable=False)
    work_item_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    work_item_type: Mapped[str] = mapped_column(String(32), nullable=False, default="ad_hoc")
    scheduled_start: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    scheduled_end: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False, default="scheduled")
    notes: Mapped[str | None] = mapped_column(Text)
    is_private: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The idempotency key of the workflow step that created the entry: a step
    # re-run after a crash finds its entry instead of creating a second one.
    source_key: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        CheckConstraint("scheduled_start < scheduled_end", name="window_order"),
        Index(None, "tenant", "scheduled_start", "scheduled_end"),
        UniqueConstraint("tenant", "source_key"),
    )


class ScheduleEntryAssignee(Base):
    __tablename__ = "schedule_entry_assignees"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant", "entry_id"],
            ["schedule_entries.tenant", "schedule_entries.entry_id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(["tenant", "user_id"], ["users.tenant", "users.user_id"]),
        Index(None, "tenant", "user_id"),
    )


class ScheduleConflict(Base):
    __tablename__ = "schedule_conflicts"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    conflict_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    entry_id_1: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    entry_id_2: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    conflict_type: Mapped[str] = mapped_column(String(32), nullable=False, default="overlap")
    resolved: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class CalendarConnection(Base):
    """A user's external calendar that schedule entries are pushed to."""

    __tablename__ = "calendar_connections"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    calendar_id: Mapped[str | None] = mapped_column(String(512))
    external_account: Mapped[str | None] = mapped_column(String(320))
    sync_direction: Mapped[str] = mapped_column(String(32), nullable=False, default="to_external")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JsonType, nullable=False, default=dict)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        UniqueConstraint("tenant", "user_id", "provider"),
        CheckConstraint(
            "sync_direction IN ('to_external', 'from_external', 'bidirectional')",
            name="sync_direction",
        ),
    )


class CalendarEventLink(Base):
    """The external calendar event a schedule entry was pushed to, per connection."""

    __tablename__ = "calendar_event_links"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    external_event_id: Mapped[str] = mapped_column(String(512), nullable=False)
    last_synced_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, default=utcnow)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant", "entry_id"],
            ["schedule_entries.tenant", "schedule_entries.entry_id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant", "connection_id"],
            ["calendar_connections.tenant", "calendar_connections.connection_id"],
            ondelete="CASCADE",
        ),
    )


class OutboxEvent(Base):
    """A domain event written in the same transaction as the change it announces."""

    __tablename__ = "domain_event_outbox"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_type: Mapped[str] = mapped_column(String(128), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, nullable=False, default=dict)
    created_at: Mapped[datetime] = _created()
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    publish_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (Index(None, "published_at", "created_at"),)


class WorkflowActionInvocation(Base):
    """The idempotency ledger: one row per (tenant, idempotency key)."""

    __tablename__ = "workflow_action_invocations"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    invocation_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    idempotency_key: Mapped[str] = mapped_column(String(512), nullable=False)
    run_id: Mapped[str | None] = mapped_column(String(255))
    step_path: Mapped[str | None] = mapped_column(String(512))
    action_id: Mapped[str] = mapped_column(String(255), nullable=False)
    action_version: Mapped[int] = mapped_column(Integer, nullable=False)
    input_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    input_json: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    output_json: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    error_json: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    error_message: Mapped[str | None] = mapped_column(Text)
    wait_state: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    next_check_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = _created()
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = _updated()
    # When the sweeper last re-published this step (its message may have been lost).
    redriven_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The attempt history, the last 50 entries (``executor.history``); NULL until claimed.
    history: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonType)

    __table_args__ = (
        UniqueConstraint("tenant", "idempotency_key"),
        Index(None, "tenant", "run_id", "step_path"),
        # The sweeper's two questions: expired leases, overdue waits and old QUEUED rows.
        Index(None, "status", "lease_expires_at"),
        Index(None, "status", "next_check_at"),
        # ``patchbay invocations``: a tenant's steps, newest first.
        Index(None, "tenant", "created_at"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in INVOCATION_STATUSES) + ")",
            name="status",
        ),
    )


class TenantConfigChange(Base):
    """A change to a tenant's vendor connections or secrets, recorded by database triggers.

    Every insert, delete, and update of what a step reads of a connection
    (``rmm_integrations``: provider, URL, active, connected, settings) or of a
    secret (``tenant_secrets``) adds a row, whatever wrote it (migration 0009
    creates the triggers). A tenant's newest ``change_id`` is its configuration
    version: a worker remembers connection rows and secrets only while it
    stands (``executor.tenant_cache``). Older rows are pruned by the sweeper.
    """

    __tablename__ = "tenant_config_changes"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    # PostgreSQL numbers rows from an identity; SQLite's trigger takes the next number
    # itself (one writer at a time there).
    change_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)


class ExecutorLock(Base):
    """A named lease shared by every worker (e.g. "one ledger sweeper at a time")."""

    __tablename__ = "executor_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class InboundEvent(Base):
    """A vendor webhook event already recorded: a delivery of the same id again is a replay.

    Written in the transaction that applies the event, so an event is applied
    exactly once however often it is delivered (``store.inbound``).
    """

    __tablename__ = "inbound_events"

    tenant: Mapped[str] = mapped_column(String(64), _tenant_fk(), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(128), nullable=False)
    occurred_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = _created()

    __table_args__ = (Index(None, "received_at"),)
