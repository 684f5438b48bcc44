"""The same migrations build the same schema on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from store import db
from store.models import Base


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()


# Tables of the executor itself, holding no tenant's data.
SYSTEM_TABLES = {"executor_locks"}


def test_every_primary_key_starts_with_the_tenant(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        inspector = inspect(engine)
        for table in Base.metadata.sorted_tables:
            if table.name in SYSTEM_TABLES:
                assert "tenant" not in table.c, table.name
                continue
            pk = inspector.get_pk_constraint(table.name)["constrained_columns"]
            assert pk[0] == "tenant", table.name
    finally:
        engine.dispose()


def test_the_unique_constraints_that_matter_exist(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        inspector = inspect(engine)
        uniques = {
            t: {tuple(u["column_names"]) for u in inspector.get_unique_constraints(t)}
            for t in ("rmm_integrations", "workflow_action_invocations")
        }
    finally:
        engine.dispose()
    assert ("tenant", "provider") in uniques["rmm_integrations"]
    assert ("tenant", "idempotency_key") in uniques["workflow_action_invocations"]


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        db.downgrade(engine, "base")
        assert db.current_revision(engine) is None
        assert not (set(inspect(engine).get_table_names()) & set(Base.metadata.tables))
        db.upgrade(engine)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        db.upgrade(engine)  # a second upgrade is a no-op
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()


def test_migration_0004_strips_passwords_from_stored_vendor_urls(database_url: str) -> None:
    """Rows written before the outbound URL policy lose their userinfo, and nothing else."""
    engine = db.make_engine(database_url)
    urls = {
        "ninjaone": "https://admin:hunter2@eu.ninjarmm.com/api/v2",
        "huntress": "user:pw@api.huntress.io",
        "levelio": "https://api.level.io",
    }
    try:
        db.downgrade(engine, "0003")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO tenants (tenant, name, created_at) "
                    "VALUES ('acme', 'Acme', CURRENT_TIMESTAMP)"
                )
            )
            for provider, url in urls.items():
                conn.execute(
                    text(
                        "INSERT INTO rmm_integrations (tenant, integration_id, provider, "
                        "instance_url, is_active, sync_status, settings, created_at, updated_at) "
                        "VALUES ('acme', :id, :provider, :url, true, 'pending', '{}', "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"id": uuid.uuid4().hex, "provider": provider, "url": url},
                )
        db.upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT provider, instance_url FROM rmm_integrations"))
            stored: dict[str, str] = {str(p): str(u) for p, u in rows}
        assert stored == {
            "ninjaone": "https://eu.ninjarmm.com/api/v2",
            "huntress": "api.huntress.io",
            "levelio": "https://api.level.io",
        }
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM rmm_integrations"))
            conn.execute(text("DELETE FROM tenants"))
        engine.dispose()
