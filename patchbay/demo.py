"""``patchbay demo``: the embedded walk-through, in one process.

It always runs on the embedded default, in its own data directory
(``<data_dir>/demo``), so it never touches a configured deployment and can be
run again.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from catalog.designer import designer_catalog, palette
from patchbay.runtime import open_runtime
from store import connections as conn
from store.settings import Settings
from store.tenants import create_tenant, get_tenant

DEMO_TENANT = "demo"


def demo_settings(base: Settings | None = None) -> Settings:
    """Embedded settings rooted in the demo's own data directory."""
    base = base or Settings()
    return Settings(data_dir=base.data_dir / "demo", database_url=None, broker_url="memory://")


def run_demo(console: Console, settings: Settings | None = None) -> int:
    """Run the demo; returns the process exit code."""
    settings = settings or demo_settings()
    console.rule("patchbay demo (embedded)")
    console.print(f"data directory: {settings.data_dir}")
    with open_runtime(settings) as rt:
        with rt.store.sessions.begin() as session:
            if get_tenant(session, DEMO_TENANT) is None:
                create_tenant(session, DEMO_TENANT, "Demo MSP")
                console.print(f"[green]created tenant[/] {DEMO_TENANT}")
            else:
                console.print(f"tenant {DEMO_TENANT} exists (re-run)")
        with rt.store.sessions() as session:
            states = conn.connection_states(session, DEMO_TENANT)
            table = Table("provider", "connected", title="Connections")
            for state in states:
                table.add_row(state.provider, "yes" if state.connected else "no")
            console.print(table)
            records = designer_catalog(rt.catalog, session, DEMO_TENANT)
            tiles = palette(rt.catalog, session, DEMO_TENANT)
        console.print(
            f"catalog: {len(records)} groups, {len(rt.catalog.actions)} actions, "
            f"{len(rt.catalog.modules)} integration modules registered"
        )
        if tiles:
            tile_table = Table("group", "label", "actions", title="Palette")
            for record in tiles:
                tile_table.add_row(record.group_key, record.label, str(len(record.actions)))
            console.print(tile_table)
        else:
            console.print("palette: empty (no integration module is registered in this build)")
    console.rule("done")
    return 0
