"""The demo runs to completion on the embedded default and can be run again."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from patchbay.demo import DEMO_TENANT, demo_settings, run_demo
from store import Store
from store.settings import Settings
from store.tenants import list_tenants


def test_demo_runs_twice_in_its_own_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A configured deployment must not be touched by the demo.
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", "postgresql+psycopg://nobody@192.0.2.1/never")
    settings = demo_settings(Settings(data_dir=tmp_path))
    assert settings.database_url is None
    assert settings.data_dir == tmp_path / "demo"
    for _ in range(2):
        console = Console(record=True, width=120)
        assert run_demo(console, settings) == 0
        assert "palette" in console.export_text().lower()
    store = Store.from_settings(settings)
    try:
        with store.sessions() as session:
            assert [t.tenant for t in list_tenants(session)] == [DEMO_TENANT]
    finally:
        store.close()
