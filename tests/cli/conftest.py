"""CLI fixtures: the environment that points ``patchbay`` at the test store, and a
tenant connected to the in-process FakeWidgets vendor for commands that run steps.

``cli`` here is the widgets-backed runner (``run``, ``invocations``, ``step``);
test modules about other commands define their own ``cli`` on ``cli_env``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from executor.settings import Settings
from sandbox.widgets import FakeWidgets
from store import Store
from tests.executor.conftest import CANARY_KEY, TENANT, connect_widgets
from tests.executor.widgets_integration import widgets_catalog


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """``PATCHBAY_*`` set so that every command uses the test's store (embedded broker)."""
    monkeypatch.setenv("PATCHBAY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", str(settings.database_url))
    assert settings.secret_key is not None
    monkeypatch.setenv("PATCHBAY_SECRET_KEY", settings.secret_key.get_secret_value())
    monkeypatch.delenv("PATCHBAY_BROKER_URL", raising=False)
    return settings


@pytest.fixture
def fake() -> FakeWidgets:
    return FakeWidgets({CANARY_KEY: "acct-acme"})


@pytest.fixture
def cli(
    cli_env: Settings, store: Store, fake: FakeWidgets, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    """A runner whose catalog is the widgets integration, ``TENANT`` connected to ``fake``."""
    server = fake.serve()
    connect_widgets(store, TENANT, CANARY_KEY, url=server.base_url)
    for where in ("executor.app.build_catalog", "catalog.bootstrap.build_catalog"):
        monkeypatch.setattr(where, widgets_catalog)
    try:
        yield CliRunner()
    finally:
        server.stop()
