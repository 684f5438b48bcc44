"""Palette parity (PRD T003): each RMM tile as the designer shows it, connected and not.

The golden files next to this test pin, per RMM vendor (NinjaOne, Tactical
RMM), for a tenant with it connected (``<provider>_connected.json``) and for
one that never connected it, disconnected it, or connected only another RMM
(``<provider>_disconnected.json``; the one RMM availability query must not mix
providers up): the catalog record (group, label, icon,
default action, allowed actions, the actions in catalog order with their
input and output fields, ``available``), whether the tile is in the palette,
and what the editor shows on an existing step of the vendor. The catalog is built
the way production builds it (``catalog.bootstrap.build_catalog``), on SQLite
and on PostgreSQL; both must give the same file.

The files are reviewed by hand. After an intended change, regenerate them
and read the diff before committing::

    PATCHBAY_UPDATE_GOLDEN=1 .venv/bin/pytest tests/golden -q
    git diff tests/golden
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from catalog.bootstrap import build_catalog
from catalog.designer import designer_catalog, palette, step_status
from store import Store
from store import connections as conn
from store.tenants import create_tenant

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


@pytest.fixture(params=sorted(VENDORS))
def vendor(request: pytest.FixtureRequest) -> RmmVendor:
    return VENDORS[request.param]


def snapshot(store: Store, vendor: RmmVendor) -> dict[str, Any]:
    """What the designer shows of ``vendor`` for ``TENANT``, as stable JSON."""
    catalog = build_catalog()
    with store.sessions() as session:
        records = designer_catalog(catalog, session, TENANT)
        tiles = palette(catalog, session, TENANT)
        status = step_status(catalog, session, TENANT, action_id=vendor.step_action)
    (record,) = [r for r in records if r.group_key == vendor.group]
    return {
        "catalog_record": record.to_json(),
        "in_palette": any(t.group_key == vendor.group for t in tiles),
        "existing_step": status.model_dump(mode="json"),
    }


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
    data = snapshot(store, vendor)
    assert data["catalog_record"]["available"] is True
    assert data["in_palette"] is True
    check_golden(f"{vendor.provider}_connected.json", data)


@pytest.mark.parametrize("history", ["never connected", "disconnected", "only another RMM"])
def test_disconnected_tenant_matches_golden(store: Store, vendor: RmmVendor, history: str) -> None:
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
        if history == "disconnected":
            conn.connect(session, TENANT, vendor.provider, instance_url=vendor.url)
            assert conn.disconnect(session, TENANT, vendor.provider)
        if history == "only another RMM":
            (other,) = [v for v in VENDORS.values() if v != vendor][:1]
            conn.connect(session, TENANT, other.provider, instance_url=other.url)
    data = snapshot(store, vendor)
    assert data["catalog_record"]["available"] is False
    assert data["in_palette"] is False
    check_golden(f"{vendor.provider}_disconnected.json", data)


def test_the_two_states_differ_only_in_availability(vendor: RmmVendor) -> None:
    connected = json.loads((GOLDEN_DIR / f"{vendor.provider}_connected.json").read_text())
    disconnected = json.loads((GOLDEN_DIR / f"{vendor.provider}_disconnected.json").read_text())
    for data in (connected, disconnected):
        del data["catalog_record"]["available"], data["in_palette"], data["existing_step"]
    assert connected == disconnected
