"""What the vendors' ``patchbay connect`` tests share: a CLI on the test store, in sandbox mode."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from executor.settings import Settings
from patchbay.cli import app
from store import Store
from store.models import RmmIntegration


def sandbox_cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, tenant: str) -> CliRunner:
    """A CLI runner on ``settings``' store in sandbox mode (loopback fakes), with ``tenant``."""
    monkeypatch.setenv("PATCHBAY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", str(settings.database_url))
    assert settings.secret_key is not None
    monkeypatch.setenv("PATCHBAY_SECRET_KEY", settings.secret_key.get_secret_value())
    monkeypatch.delenv("PATCHBAY_BROKER_URL", raising=False)
    monkeypatch.setenv("PATCHBAY_SANDBOX", "1")
    runner = CliRunner()
    assert runner.invoke(app, ["tenant", "create", tenant]).exit_code == 0
    return runner


def nothing_stored(store: Store, tenant: str) -> bool:
    """No connection row at all and no secret of ``tenant``: a refused connect left nothing."""
    with store.sessions() as session:
        rows = session.scalars(select(RmmIntegration)).all()
    return rows == [] and store.secrets.names(tenant) == []
