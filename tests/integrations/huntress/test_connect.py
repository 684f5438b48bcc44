"""``patchbay connect huntress`` and ``patchbay connections test``: one read proves the key pair.

Against FakeHuntress on loopback (sandbox mode lets a loopback ``http://``
URL through the outbound policy). The check is one ``GET /v1/account``; it
sends no write, so it says that whether the key may resolve reports cannot
be known from a read.
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
from integrations.huntress import SANDBOX
from sandbox.core import Fault, RunningServer
from sandbox.huntress import FakeHuntress
from store import Store
from store.models import RmmIntegration
from tests.cli.support import invoke
from tests.integrations.connect_support import nothing_stored, sandbox_cli
from tests.integrations.huntress.conftest import (
    CANARIES,
    CANARY_KEY,
    CANARY_READ_ONLY_KEY,
    CANARY_READ_ONLY_SECRET,
    CANARY_SECRET,
    TENANT,
    basic,
)

WRONG_SECRET = "hs_WRONG0huntress0secret0CANARY0000000000000000e5"


@pytest.fixture
def fake() -> FakeHuntress:
    huntress = FakeHuntress()
    seed = huntress.seed_demo()
    huntress.add_key(seed["account_id"], key=CANARY_KEY, secret=CANARY_SECRET)
    huntress.add_key(
        seed["account_id"],
        kind="account",
        key=CANARY_READ_ONLY_KEY,
        secret=CANARY_READ_ONLY_SECRET,
    )
    return huntress


@pytest.fixture
def server(fake: FakeHuntress) -> Iterator[RunningServer]:
    with fake.serve() as running:
        yield running


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    return sandbox_cli(settings, monkeypatch, TENANT)


def connect_args(url: str | None, tmp_path: Path, key: str, secret: str) -> list[str]:
    path = tmp_path / "secret"
    path.write_text(secret + "\n")
    where = [] if url is None else ["--url", url]
    return ["connect", "huntress", "--tenant", TENANT, *where,
            "--secret", f"huntress_api_key={key}",
            "--secret", f"huntress_api_secret=@{path}"]  # fmt: skip


def test_connect_checks_the_pair_with_one_read_and_stores_the_connection(
    cli: CliRunner,
    store: Store,
    fake: FakeHuntress,
    server: RunningServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    args = connect_args(server.base_url + "/", tmp_path, CANARY_KEY, CANARY_SECRET)
    code, out, err = invoke(cli, *args)
    assert code == 0, err
    assert "connected huntress" in out
    assert "API key accepted, account Patchbay Demo MSP (patchbay-demo.huntress.io)" in out
    assert "cannot be read without trying a write" in out
    [request] = fake.requests
    assert (request.method, request.path) == ("GET", "/v1/account")
    assert request.headers["authorization"] == basic(CANARY_KEY, CANARY_SECRET)
    with store.sessions() as session:
        row = session.scalars(select(RmmIntegration)).one()
    assert (row.provider, row.is_active) == ("huntress", True)
    for name, value in (("huntress_api_key", CANARY_KEY), ("huntress_api_secret", CANARY_SECRET)):
        stored = store.secrets.get(TENANT, name)
        assert stored is not None and stored.get_secret_value() == value

    code, out, err = invoke(cli, "connections", "test", "--json")
    assert code == 0, err
    [row_out] = json.loads(out)
    assert (row_out["provider"], row_out["result"]) == ("huntress", "ok")
    assert row_out["detail"].startswith("API key accepted, account Patchbay Demo MSP")
    assert fake.count("GET", "/v1/account") == 2 and fake.count("POST") == 0  # no write probe
    for text in (out, err, caplog.text):
        for canary in CANARIES:
            assert canary not in text


def test_a_read_only_account_key_connects_too_reads_are_all_it_can_prove(
    cli: CliRunner, fake: FakeHuntress, server: RunningServer, tmp_path: Path
) -> None:
    args = connect_args(server.base_url, tmp_path, CANARY_READ_ONLY_KEY, CANARY_READ_ONLY_SECRET)
    code, out, err = invoke(cli, *args)
    assert code == 0, err
    assert "the default account key is read-only" in out
    assert fake.count("POST") == 0


def test_connect_with_a_refused_pair_is_one_line_exit_2_and_stores_nothing(
    cli: CliRunner, store: Store, fake: FakeHuntress, server: RunningServer, tmp_path: Path
) -> None:
    code, out, err = invoke(cli, *connect_args(server.base_url, tmp_path, CANARY_KEY, WRONG_SECRET))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert "Huntress connection check failed, nothing stored" in lines[0]
    assert "refused the API key and secret (401: Unauthorized)" in lines[0]
    assert "--secret huntress_api_key=... --secret huntress_api_secret=@file" in lines[0]
    assert out == ""
    assert WRONG_SECRET not in err and CANARY_KEY not in err
    assert nothing_stored(store, TENANT)
    assert fake.count() == 1


def test_connect_needs_both_secrets(cli: CliRunner, store: Store, server: RunningServer) -> None:
    code, _, err = invoke(
        cli, "connect", "huntress", "--tenant", TENANT, "--url", server.base_url,
        "--secret", f"huntress_api_key={CANARY_KEY}",
    )  # fmt: skip
    assert code == 2
    assert "huntress_api_secret" in err
    assert nothing_stored(store, TENANT)


def test_a_rate_limited_check_says_so(
    cli: CliRunner, store: Store, fake: FakeHuntress, server: RunningServer, tmp_path: Path
) -> None:
    fake.inject(Fault(status=429, body={"error": "Too Many Requests"}))
    code, _, err = invoke(cli, *connect_args(server.base_url, tmp_path, CANARY_KEY, CANARY_SECRET))
    assert code == 2
    assert "rate limiting this account (429: Too Many Requests" in err
    assert nothing_stored(store, TENANT)


def test_connections_test_fails_once_the_secret_is_deleted(
    cli: CliRunner, store: Store, server: RunningServer, tmp_path: Path
) -> None:
    args = connect_args(server.base_url, tmp_path, CANARY_KEY, CANARY_SECRET)
    assert invoke(cli, *args)[0] == 0
    store.secrets.delete(TENANT, "huntress_api_secret")
    code, out, _ = invoke(cli, "connections", "test", "--json")
    assert code == 1
    [row] = json.loads(out)
    assert (row["provider"], row["result"]) == ("huntress", "failed")
    assert "huntress_api_secret" in row["detail"]


def test_the_sandbox_hint_connects_with_the_fakes_credential_set() -> None:
    seed = {"api_key": "hk_demo", "api_secret": "hs_demo"}
    assert SANDBOX.secrets(seed) == {
        "huntress_api_key": "hk_demo",
        "huntress_api_secret": "hs_demo",
    }
    assert SANDBOX.hints("http://127.0.0.1:8400", seed, "acme") == [
        "patchbay connect huntress --tenant acme --url http://127.0.0.1:8400 "
        "--secret huntress_api_key=hk_demo --secret huntress_api_secret=hs_demo"
    ]
