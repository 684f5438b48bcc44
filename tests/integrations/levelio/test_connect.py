"""``patchbay connect levelio`` and ``patchbay connections test``: the key proven, its access told.

Against FakeLevel on loopback (sandbox mode lets a loopback ``http://`` URL
through the outbound policy). The check reads ``GET /v2/devices?limit=1``,
then sends one write that cannot change anything (resolving an alert id no
alert has): a read-only key is refused 403, a read/write one gets 404.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from executor.settings import Settings
from sandbox.core import RunningServer
from sandbox.levelio import FakeLevel
from store import Store
from store.models import RmmIntegration
from tests.cli.support import invoke
from tests.integrations.connect_support import nothing_stored, sandbox_cli
from tests.integrations.levelio.conftest import CANARY_KEY, CANARY_READ_ONLY_KEY, TENANT

WRONG_KEY = "WRONG-level-key-CANARY-7c2e"
PROBE = "/v2/alerts/patchbay-connection-check-no-such-alert/resolve"


@pytest.fixture
def fake() -> FakeLevel:
    level = FakeLevel()
    level.seed_demo()
    level.add_api_key(CANARY_KEY)
    level.add_api_key(CANARY_READ_ONLY_KEY, write=False)
    return level


@pytest.fixture
def server(fake: FakeLevel) -> Iterator[RunningServer]:
    with fake.serve() as running:
        yield running


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    return sandbox_cli(settings, monkeypatch, TENANT)


def connect_args(url: str | None, tmp_path: Path, key: str) -> list[str]:
    path = tmp_path / "key"
    path.write_text(key + "\n")
    where = [] if url is None else ["--url", url]
    return ["connect", "levelio", "--tenant", TENANT, *where, "--secret",
            f"levelio_api_key=@{path}"]  # fmt: skip


def active_alerts(server: RunningServer) -> list[str]:
    """The fake's active alert ids, read through its own API."""
    answer = httpx.get(
        f"{server.base_url}/v2/alerts",
        params={"status": "active"},
        headers={"Authorization": CANARY_KEY},
    )
    return [alert["id"] for alert in answer.json()["data"]]


def test_connect_proves_a_read_write_key_and_stores_the_connection(
    cli: CliRunner,
    store: Store,
    fake: FakeLevel,
    server: RunningServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    code, out, err = invoke(cli, *connect_args(server.base_url + "/", tmp_path, CANARY_KEY))
    assert code == 0, err
    assert "connected levelio" in out
    assert (
        "checked: API key accepted (devices readable); read/write key: alerts can be resolved "
        "and automations triggered" in out
    )
    read, probe = fake.requests
    assert (read.method, read.path, read.query) == ("GET", "/v2/devices", {"limit": ["1"]})
    assert read.headers["authorization"] == CANARY_KEY
    assert (probe.method, probe.path, probe.status) == ("POST", PROBE, 404)
    assert active_alerts(server) == ["alr_1", "alr_2"]  # the probe changed nothing
    with store.sessions() as session:
        row = session.scalars(select(RmmIntegration)).one()
    assert (row.provider, row.is_active, row.instance_url) == (
        "levelio",
        True,
        server.base_url + "/",
    )
    stored = store.secrets.get(TENANT, "levelio_api_key")
    assert stored is not None and stored.get_secret_value() == CANARY_KEY

    code, out, err = invoke(cli, "connections", "test", "--json")
    assert code == 0, err
    [result] = json.loads(out)
    assert (result["provider"], result["result"]) == ("levelio", "ok")
    assert "read/write key" in result["detail"]
    assert fake.count("GET", "/v2/devices") == 2
    for text in (out, err, caplog.text):
        assert CANARY_KEY not in text


def test_a_read_only_key_connects_and_the_check_says_what_it_cannot_do(
    cli: CliRunner, fake: FakeLevel, server: RunningServer, tmp_path: Path
) -> None:
    code, out, err = invoke(cli, *connect_args(server.base_url, tmp_path, CANARY_READ_ONLY_KEY))
    assert code == 0, err
    assert "read-only key: Level refuses its writes (403)" in out
    assert "Settings > API" in out
    assert [r.status for r in fake.requests] == [200, 403]


def test_connect_with_a_refused_key_is_one_line_exit_2_and_stores_nothing(
    cli: CliRunner, store: Store, fake: FakeLevel, server: RunningServer, tmp_path: Path
) -> None:
    code, out, err = invoke(cli, *connect_args(server.base_url, tmp_path, WRONG_KEY))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Level connection check failed, nothing stored" in lines[0]
    assert "refused the API key (401: Access denied)" in lines[0]
    assert "Settings > API" in lines[0]
    assert "--secret levelio_api_key=@file" in lines[0]
    assert out == ""
    assert WRONG_KEY not in err
    assert nothing_stored(store, TENANT)
    assert fake.count() == 1  # the refused read; no probe


def test_connections_test_fails_once_the_key_is_revoked(
    cli: CliRunner, fake: FakeLevel, server: RunningServer, tmp_path: Path
) -> None:
    assert invoke(cli, *connect_args(server.base_url, tmp_path, CANARY_KEY))[0] == 0
    fake.revoke_api_key(CANARY_KEY)
    code, out, _ = invoke(cli, "connections", "test", "--json")
    assert code == 1
    [row] = json.loads(out)
    assert (row["provider"], row["result"]) == ("levelio", "failed")
    assert "levelio_api_key" in row["detail"]
    assert CANARY_KEY not in out


def test_a_host_other_than_levels_needs_allow_custom_host(
    cli: CliRunner, store: Store, tmp_path: Path
) -> None:
    code, _, err = invoke(cli, *connect_args("https://level.example.com", tmp_path, CANARY_KEY))
    assert code == 2
    assert "not one of this vendor's known hosts (api.level.io)" in err
    assert nothing_stored(store, TENANT)


def test_without_url_the_connection_uses_levels_own_api_root(
    cli: CliRunner, store: Store, tmp_path: Path
) -> None:
    code, out, err = invoke(cli, *connect_args(None, tmp_path, CANARY_KEY), "--no-check")
    assert "not checked (--no-check)" in out
    assert code == 0, err
    with store.sessions() as session:
        row = session.scalars(select(RmmIntegration)).one()
    assert row.instance_url is None  # the client then uses https://api.level.io
