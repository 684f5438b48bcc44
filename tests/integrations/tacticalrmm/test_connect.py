"""``patchbay connect tacticalrmm`` and ``patchbay connections test``: one read proves URL and key.

Against FakeTacticalRmm on loopback (sandbox mode lets a loopback ``http://``
URL through the outbound policy).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from executor.settings import Settings
from sandbox.core import RunningServer
from sandbox.tacticalrmm import FakeTacticalRmm
from store import Store
from store.models import RmmIntegration
from tests.cli.support import invoke
from tests.integrations.connect_support import nothing_stored, sandbox_cli
from tests.integrations.tacticalrmm.conftest import CANARY_KEY, TENANT

WRONG_KEY = "WRONG-tactical-key-CANARY-55e0"


@pytest.fixture
def fake() -> FakeTacticalRmm:
    tactical = FakeTacticalRmm()
    seed = tactical.seed_demo()
    tactical.add_api_key(seed["username"], CANARY_KEY)
    return tactical


@pytest.fixture
def server(fake: FakeTacticalRmm) -> Iterator[RunningServer]:
    with fake.serve() as running:
        yield running


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    return sandbox_cli(settings, monkeypatch, TENANT)


def connect_args(url: str, tmp_path: Path, key: str) -> list[str]:
    path = tmp_path / "key"
    path.write_text(key + "\n")
    return ["connect", "tacticalrmm", "--tenant", TENANT, "--url", url, "--secret",
            f"tacticalrmm_api_key=@{path}"]  # fmt: skip


def test_connect_checks_the_key_with_one_read_and_stores_the_connection(
    cli: CliRunner,
    store: Store,
    fake: FakeTacticalRmm,
    server: RunningServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    code, out, err = invoke(cli, *connect_args(server.base_url + "/", tmp_path, CANARY_KEY))
    assert code == 0, err
    assert "connected tacticalrmm" in out
    [request] = fake.requests
    assert (request.method, request.path) == ("GET", "/clients/")
    assert request.headers["x-api-key"] == CANARY_KEY
    with store.sessions() as session:
        row = session.scalars(select(RmmIntegration)).one()
    assert (row.provider, row.is_active) == ("tacticalrmm", True)
    stored = store.secrets.get(TENANT, "tacticalrmm_api_key")
    assert stored is not None and stored.get_secret_value() == CANARY_KEY

    code, out, err = invoke(cli, "connections", "test", "--json")
    assert code == 0, err
    assert json.loads(out) == [
        {
            "tenant": TENANT,
            "provider": "tacticalrmm",
            "result": "ok",
            "detail": "API key accepted, 2 clients visible",
        }
    ]
    assert fake.count("GET", "/clients/") == 2
    for text in (out, err, caplog.text):
        assert CANARY_KEY not in text


def test_connect_with_a_refused_key_is_one_line_exit_2_and_stores_nothing(
    cli: CliRunner, store: Store, fake: FakeTacticalRmm, server: RunningServer, tmp_path: Path
) -> None:
    code, out, err = invoke(cli, *connect_args(server.base_url, tmp_path, WRONG_KEY))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert "Tactical RMM connection check failed, nothing stored" in lines[0]
    assert "Invalid token." in lines[0]
    assert "--secret tacticalrmm_api_key=@file" in lines[0]
    assert out == ""
    assert WRONG_KEY not in err
    assert nothing_stored(store, TENANT)
    assert fake.count() == 1


def test_connections_test_fails_once_the_key_is_revoked(
    cli: CliRunner, store: Store, server: RunningServer, tmp_path: Path
) -> None:
    assert invoke(cli, *connect_args(server.base_url, tmp_path, CANARY_KEY))[0] == 0
    store.secrets.delete(TENANT, "tacticalrmm_api_key")
    code, out, _ = invoke(cli, "connections", "test", "--json")
    assert code == 1
    [row] = json.loads(out)
    assert (row["provider"], row["result"]) == ("tacticalrmm", "failed")
    assert "tacticalrmm_api_key" in row["detail"]


def test_the_dashboard_host_is_told_apart_from_the_api_host(
    cli: CliRunner, store: Store, fake: FakeTacticalRmm, server: RunningServer, tmp_path: Path
) -> None:
    from sandbox.core import Fault

    # The rmm. dashboard answers every path with its SPA's HTML and 200.
    fake.inject(Fault(status=200, body="<!doctype html><html></html>",
                      headers={"Content-Type": "text/html"}))  # fmt: skip
    code, _, err = invoke(cli, *connect_args(server.base_url, tmp_path, CANARY_KEY))
    assert code == 2
    assert "api. host" in err
    assert nothing_stored(store, TENANT)
