"""Palette cost: SQL statements per call and latency, 10 vs 10,000 tenants.

Five app modules are registered (four RMM-style, one Teams). For each backend
(SQLite, PostgreSQL) the database is filled with 10 and then 10,000 tenants,
each with a realistic mix of connected and disconnected integrations, and the
palette of one tenant is computed repeatedly.

Reported: statements per palette call (target <= 2, whatever the number of
modules), p50/p99 latency, and the 10,000-tenant / 10-tenant p50 ratio
(target <= 1.5). Run: ``.venv/bin/python -m benchmarks.palette``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from catalog.bootstrap import build_catalog
from catalog.designer import palette
from catalog.registration import Catalog
from store import db
from store.models import RmmIntegration, TeamsIntegration, Tenant, TenantAddon
from store.types import utcnow
from tests.catalog.testmodules import catalog_with, echo_spec, make_module

# The vendors whose connection is an rmm_integrations row, as their packages declare.
RMM_PROVIDERS = tuple(build_catalog().vendors.rmm_providers())
POSTGRES_URL = os.environ.get(
    "PATCHBAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def five_module_catalog() -> Catalog:
    """NinjaOne, Tactical, Huntress, Teams test tiles plus Level."""
    from catalog.availability import rmm_integration_availability
    from catalog.registration import register_integration_module

    catalog = catalog_with("ninjaone", "tacticalrmm", "huntress", "teams")
    module = make_module("ninjaone")
    register_integration_module(
        catalog,
        module=type(module)(
            group_key="app:levelio",
            label="Level",
            description="Level test actions.",
            icon_token="levelio",
            default_action_id="levelio.test.echo",
            allowed_action_ids=("levelio.test.echo",),
            availability_key="rmm:levelio",
        ),
        availability=rmm_integration_availability("levelio"),
        register_actions=lambda actions: actions.register(echo_spec("levelio.test.echo")),
    )
    assert len(catalog.modules) == 5
    return catalog


def populate(engine: Engine, tenants: int, seed: int = 7) -> str:
    """Insert ``tenants`` tenants with mixed connections; returns the probe tenant."""
    rng = random.Random(seed)
    now = utcnow()
    tenant_rows, rmm_rows, addon_rows, teams_rows = [], [], [], []
    for i in range(tenants):
        tid = f"t{i:05d}"
        tenant_rows.append({"tenant": tid, "name": f"Tenant {i}", "created_at": now})
        for provider in RMM_PROVIDERS:
            if rng.random() < 0.6:
                connected = rng.random() < 0.7
                rmm_rows.append(
                    {
                        "tenant": tid,
                        "integration_id": uuid.uuid4(),
                        "provider": provider,
                        "is_active": connected,
                        "connected_at": now if connected else None,
                        "sync_status": "pending",
                        "settings": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        if rng.random() < 0.5:
            addon_rows.append(
                {"tenant": tid, "addon_key": "teams", "activated_at": now, "metadata": {}}
            )
            teams_rows.append(
                {
                    "tenant": tid,
                    "install_status": rng.choice(["active", "install_pending"]),
                    "enabled_capabilities": [],
                    "notification_categories": [],
                    "allowed_actions": [],
                    "package_metadata": {},
                    "created_at": now,
                    "updated_at": now,
                }
            )
    with engine.begin() as conn:
        conn.execute(insert(Tenant), tenant_rows)
        if rmm_rows:
            conn.execute(insert(RmmIntegration), rmm_rows)
        if addon_rows:
            conn.execute(insert(TenantAddon), addon_rows)
            conn.execute(insert(TeamsIntegration), teams_rows)
    return str(tenant_rows[len(tenant_rows) // 2]["tenant"])


def reference_style_availability(catalog: Catalog, session: Session, tenant: str) -> set[str]:
    """The reference's way, for contrast: each module's resolver, serially, no sharing."""
    available = set()
    for module in catalog.modules.list():
        resolver = catalog.availability.get(module.availability_key)
        if resolver is not None and resolver(session, tenant):
            available.add(module.group_key)
    return available


def measure(
    engine: Engine,
    catalog: Catalog,
    tenant: str,
    calls: int,
    view: Callable[[Catalog, Session, str], object] = palette,
) -> dict[str, float]:
    """Statements per call and latency percentiles (ms) over ``calls`` calls of ``view``."""
    sessions = db.make_session_factory(engine)
    counter = {"n": 0}

    def count(*_args: Any) -> None:
        counter["n"] += 1

    for _ in range(max(20, calls // 20)):  # warm the pool, the caches and the plans
        with sessions() as session:
            view(catalog, session, tenant)
    event.listen(engine, "before_cursor_execute", count)
    timings = []
    try:
        for _ in range(calls):
            with sessions() as session:
                start = time.perf_counter()
                view(catalog, session, tenant)
                timings.append((time.perf_counter() - start) * 1000)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    timings.sort()
    return {
        "statements_per_call": counter["n"] / calls,
        "p50_ms": statistics.median(timings),
        "p99_ms": timings[min(len(timings) - 1, int(len(timings) * 0.99))],
    }


def run_backend(backend: str, sizes: tuple[int, ...], calls: int) -> dict[str, Any]:
    catalog = five_module_catalog()
    results: dict[str, Any] = {}
    for size in sizes:
        if backend == "sqlite":
            tmp = tempfile.mkdtemp(prefix="pb-bench-")
            url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
            cleanup = None
        else:
            schema = f"pbbench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(POSTGRES_URL)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = (
                make_url(POSTGRES_URL)
                .update_query_dict({"options": f"-csearch_path={schema}"})
                .render_as_string(hide_password=False)
            )
            cleanup = (admin, schema)
        engine = db.make_engine(url)
        try:
            db.upgrade(engine)
            tenant = populate(engine, size)
            if backend == "postgres":
                with engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            results[str(size)] = measure(engine, catalog, tenant, calls)
            results[f"{size}_reference_style_availability_only"] = measure(
                engine, catalog, tenant, calls, reference_style_availability
            )
        finally:
            engine.dispose()
            if cleanup is not None:
                admin, schema = cleanup
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    small, large = results[str(sizes[0])], results[str(sizes[-1])]
    results["ratio_p50_large_over_small"] = large["p50_ms"] / small["p50_ms"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    report = {
        backend: run_backend(backend, (10, 10_000), args.calls)
        for backend in args.backends.split(",")
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
