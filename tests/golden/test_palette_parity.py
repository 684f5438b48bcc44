"""Palette parity (PRD T003): each vendor tile as the designer shows it, connected and not.

The golden files next to this test pin, per RMM vendor (NinjaOne, Tactical
RMM, Level, Huntress), for a tenant with it connected (``<provider>_connected.json``)
and for one that never connected it, disconnected it, or connected only
another vendor (``<provider>_disconnected.json``; the one RMM availability
query must not mix providers up): the catalog record (group, label, icon,
default action, allowed actions, the actions in catalog order with their
input and output fields, ``available``), whether the tile is in the palette,
and what the editor shows on an existing step of the vendor. The catalog is built
the way production builds it (``catalog.bootstrap.build_catalog``), on SQLite
and on PostgreSQL; both must give the same file.

Microsoft Teams (``teams_connected.json`` / ``teams_disconnected.json``) has
its own availability: the tenant's ``teams`` add-on active (no expiry, or one
in the future) *and* its Teams install ``active``. Every way of missing
either (no add-on, an expired one, an install pending or in error, a
disconnect, never connected, only an RMM connected) gives the one
disconnected file.

The files are reviewed by hand. After an intended change, regenerate them
and read the diff before committing::

    PATCHBAY_UPDATE_GOLDEN=1 .venv/bin/pytest tests/golden -q
    git diff tests/golden
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from catalog.bootstrap import build_catalog
from catalog.designer import designer_catalog, palette, step_status
from store import Store
from store import connections as conn
from store.connections import TEAMS_ADDON_KEY
from store.models import TeamsIntegration, TenantAddon
from store.tenants import create_tenant
from store.types import utcnow

GOLDEN_DIR = Path(__file__).parent
UPDATE = os.environ.get("PATCHBAY_UPDATE_GOLDEN") == "1"
TENANT = "acme"


@dataclass(frozen=True)
class RmmVendor:
    provider: str
    url: str
    step_action: str  # the existing step whose editor status is pinned

    @property
    def group(self) -> str:
        return f"app:{self.provider}"


VENDORS = {
    "ninjaone": RmmVendor("ninjaone", "https://eu.ninjarmm.com", "ninjaone.devices.run_script"),
    "tacticalrmm": RmmVendor(
        "tacticalrmm", "https://api.tactical.example.com", "tacticalrmm.agents.get"
    ),
    "levelio": RmmVendor("levelio", "https://api.level.io", "levelio.automations.trigger"),
    "huntress": RmmVendor("huntress", "https://api.huntress.io", "huntress.incidents.resolve"),
}

TEAMS_GROUP = "app:teams"
TEAMS_STEP = "teams.send_dm"
TEAMS_URL = "https://psa.example.com"
TEAMS_SETTINGS = {
    "client_id": "5d1e9f0a-3b2c-4d5e-8f6a-7b8c9d0e1f2a",
    "aad_tenant": "contoso.onmicrosoft.com",
    "app_id": "3f6a2b1c-9d8e-4f7a-b6c5-d4e3f2a1b0c9",
    "bot_app_id": "c4d5e6f7-8a9b-4c0d-9e1f-2a3b4c5d6e7f",
    "login_url": "https://login.microsoftonline.com",
    "graph_url": "https://graph.microsoft.com",
}


@pytest.fixture(params=sorted(VENDORS))
def vendor(request: pytest.FixtureRequest) -> RmmVendor:
    return VENDORS[request.param]


def snapshot(store: Store, group: str, step_action: str) -> dict[str, Any]:
    """What the designer shows of the tile ``group`` for ``TENANT``, as stable JSON.

    ``step_action``: the action of the existing step whose editor status is pinned.
    """
    catalog = build_catalog()
    with store.sessions() as session:
        records = designer_catalog(catalog, session, TENANT)
        tiles = palette(catalog, session, TENANT)
        status = step_status(catalog, session, TENANT, action_id=step_action)
    (record,) = [r for r in records if r.group_key == group]
    return {
        "catalog_record": record.to_json(),
        "in_palette": any(t.group_key == group for t in tiles),
        "existing_step": status.model_dump(mode="json"),
    }


def connect_teams(store: Store) -> None:
    """Connect Teams for ``TENANT`` as ``patchbay connect teams`` stores it (add-on + install)."""
    with store.sessions.begin() as session:
        conn.connect(
            session,
            TENANT,
            "teams",
            instance_url=TEAMS_URL,
            kind="teams",
            settings=TEAMS_SETTINGS,
        )


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def check_golden(name: str, data: dict[str, Any]) -> None:
    path = GOLDEN_DIR / name
    if UPDATE:
        path.write_text(render(data))
    assert path.exists(), f"{path.name} is missing: run with PATCHBAY_UPDATE_GOLDEN=1"
    assert render(data) == path.read_text(), (
        f"{path.name} differs from the catalog; if the change is intended, regenerate with "
        "PATCHBAY_UPDATE_GOLDEN=1 and review the diff"
    )


def test_connected_tenant_matches_golden(store: Store, vendor: RmmVendor) -> None:
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
        conn.connect(session, TENANT, vendor.provider, instance_url=vendor.url)
    data = snapshot(store, vendor.group, vendor.step_action)
    assert data["catalog_record"]["available"] is True
    assert data["in_palette"] is True
    check_golden(f"{vendor.provider}_connected.json", data)


@pytest.mark.parametrize(
    "history", ["never connected", "disconnected", "only another RMM", "only Teams"]
)
def test_disconnected_tenant_matches_golden(store: Store, vendor: RmmVendor, history: str) -> None:
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
        if history == "disconnected":
            conn.connect(session, TENANT, vendor.provider, instance_url=vendor.url)
            assert conn.disconnect(session, TENANT, vendor.provider)
        if history == "only another RMM":
            (other,) = [v for v in VENDORS.values() if v != vendor][:1]
            conn.connect(session, TENANT, other.provider, instance_url=other.url)
    if history == "only Teams":
        connect_teams(store)
    data = snapshot(store, vendor.group, vendor.step_action)
    assert data["catalog_record"]["available"] is False
    assert data["in_palette"] is False
    check_golden(f"{vendor.provider}_disconnected.json", data)


# -- Microsoft Teams ------------------------------------------------------------------


@pytest.mark.parametrize("addon_expiry", ["none", "tomorrow"])
def test_teams_connected_tenant_matches_golden(store: Store, addon_expiry: str) -> None:
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
    connect_teams(store)
    if addon_expiry == "tomorrow":
        with store.sessions.begin() as session:
            addon = session.get(TenantAddon, (TENANT, TEAMS_ADDON_KEY))
            assert addon is not None
            addon.expires_at = utcnow() + timedelta(days=1)
    data = snapshot(store, TEAMS_GROUP, TEAMS_STEP)
    assert data["catalog_record"]["available"] is True
    assert data["in_palette"] is True
    check_golden("teams_connected.json", data)


def test_teams_tile_is_gated_by_its_own_availability_key() -> None:
    """Not in the golden record (no tile's is): the key the reference names."""
    module = build_catalog().modules.get(TEAMS_GROUP)
    assert module is not None
    assert module.availability_key == "integration:teams"


TEAMS_UNAVAILABLE = [
    "never connected",
    "add-on missing",
    "add-on expired",
    "install pending",
    "install error",
    "disconnected",
    "only an RMM",
]

# The reference's other install states (``not_configured`` is what a disconnect leaves).
INSTALL_STATUS = {"install pending": "install_pending", "install error": "error"}


@pytest.mark.parametrize("history", TEAMS_UNAVAILABLE)
def test_teams_unavailable_tenant_matches_golden(store: Store, history: str) -> None:
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
        if history == "only an RMM":
            ninja = VENDORS["ninjaone"]
            conn.connect(session, TENANT, ninja.provider, instance_url=ninja.url)
    if history not in ("never connected", "only an RMM"):
        connect_teams(store)
    with store.sessions.begin() as session:
        addon = session.get(TenantAddon, (TENANT, TEAMS_ADDON_KEY))
        install = session.get(TeamsIntegration, TENANT)
        if history == "add-on missing":
            assert addon is not None
            session.delete(addon)
        if history == "add-on expired":
            assert addon is not None
            addon.expires_at = utcnow() - timedelta(minutes=1)
        if history in INSTALL_STATUS:
            assert install is not None
            install.install_status = INSTALL_STATUS[history]
        if history == "disconnected":
            assert conn.disconnect(session, TENANT, "teams", kind="teams")
    data = snapshot(store, TEAMS_GROUP, TEAMS_STEP)
    assert data["catalog_record"]["available"] is False
    assert data["in_palette"] is False
    check_golden("teams_disconnected.json", data)


@pytest.mark.parametrize("provider", [*sorted(VENDORS), "teams"])
def test_the_two_states_differ_only_in_availability(provider: str) -> None:
    connected = json.loads((GOLDEN_DIR / f"{provider}_connected.json").read_text())
    disconnected = json.loads((GOLDEN_DIR / f"{provider}_disconnected.json").read_text())
    for data in (connected, disconnected):
        del data["catalog_record"]["available"], data["in_palette"], data["existing_step"]
    assert connected == disconnected
