"""The demo runs to completion on the embedded default and can be run again."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from rich.console import Console

from executor.settings import Settings
from patchbay.demo import DEMO_TENANT, demo_settings, run_demo
from store import Store
from store.tenants import list_tenants


def test_demo_runs_to_completion_twice_in_its_own_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A configured deployment must not be touched by the demo.
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", "postgresql+psycopg://nobody@192.0.2.1/never")
    monkeypatch.setenv("PATCHBAY_BROKER_URL", "redis://192.0.2.1:6379/0")
    settings = demo_settings(Settings(data_dir=tmp_path))
    assert settings.database_url is None
    assert settings.embedded
    assert settings.data_dir == tmp_path / "demo"
    threads_before = {t.name for t in threading.enumerate()}
    for _ in range(2):
        console = Console(record=True, width=140)
        assert run_demo(console, settings) == 0, console.export_text()
        text = console.export_text()
        assert "NinjaOne received 1 script run for 2 deliveries of one key" in text
        assert "INTEGRATION_INACTIVE" in text
        assert "Removed 1,284 files" in text
        # Tactical RMM joins the palette, answers a live read and runs a command.
        assert "Palette after connecting Tactical RMM" in text
        assert "SUCCEEDED find agents (live) (tacticalrmm.agents.find" in text
        assert "fabrikam-nas     Ubuntu 22.04.4 LTS" in text
        assert "SUCCEEDED run `hostname` on CONTOSO-DC01 (tacticalrmm.agents.run_command" in text
        assert "output: 'CONTOSO-DC01\\r\\n'" in text
        assert "disconnected NinjaOne and Tactical RMM" in text
        # It ends with the disk-full recipe, then the same run id again: all replayed.
        assert "Recipe: disk-full self-heal (patchbay recipe run disk-full)" in text
        assert "SUCCEEDED disk_full.run_cleanup (ninjaone.devices.run_script" in text
        assert re.search(
            r"SUCCEEDED disk_full\.close_ticket \(tickets\.close, [\d.]+s, replayed\)", text
        )
        assert "→ fixed (exit code 0): ticket T-1 closed, alert reset" in text
        assert "NinjaOne received 1 script run and 1 alert reset for 2 runs" in text
        assert "demo done" in text
    store = Store.from_settings(settings)
    try:
        with store.sessions() as session:
            assert [t.tenant for t in list_tenants(session)] == [DEMO_TENANT]
    finally:
        store.close()
    # Nothing keeps running: no worker, relay or sandbox server threads.
    leftover = {
        t.name for t in threading.enumerate() if t.is_alive() and t.name not in threads_before
    }
    assert not {n for n in leftover if "patchbay" in n or "server" in n.lower()}, leftover
