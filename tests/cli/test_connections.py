"""`patchbay connect` checks before it stores; `patchbay connections test` checks again.

Against FakeNinjaOne served on loopback, through the CLI as a user types it:
the URL, the provider, the required secrets and the vendor's own check (one
read-only call) all pass before anything is stored, and a refresh token the
check rotated is what gets stored.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from executor.settings import Settings
from patchbay.cli import app
from sandbox.ninjaone import FakeNinjaOne
from store import Store
from store.models import RmmIntegration
from tests.cli.support import invoke

TENANT = "acme"
CANARY = "conn-CANARY-client-secret-7d21"
CLIENT_ID = "conn-test-client"


@dataclass
class Ninja:
    fake: FakeNinjaOne
    url: str
    refresh_token: str


@pytest.fixture
def ninja() -> Iterator[Ninja]:
    fake = FakeNinjaOne()
    fake.seed_demo()
    fake.add_client(CLIENT_ID, CANARY)
    refresh_token = fake.issue_refresh_token(CLIENT_ID)
    fake.reset()  # an empty request log: the test's calls are all that is in it
    with fake.serve() as server:
        yield Ninja(fake, server.base_url, refresh_token)


@pytest.fixture
def cli(cli_env: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PATCHBAY_SANDBOX", "1")
    runner = CliRunner()
    assert runner.invoke(app, ["tenant", "create", TENANT]).exit_code == 0
    return runner


run = invoke


def connect_args(ninja: Ninja, tmp_path: Path, **overrides: str) -> list[str]:
    secrets = {
        "ninjaone_client_id": CLIENT_ID,
        "ninjaone_client_secret": CANARY,
        "ninjaone_refresh_token": ninja.refresh_token,
        **overrides,
    }
    args = ["connect", "ninjaone", "--tenant", TENANT, "--url", ninja.url]
    for name, value in secrets.items():
        path = tmp_path / name
        path.write_text(value + "\n")
        args += ["--secret", f"{name}=@{path}"]
    return args


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def nothing_stored(store: Store) -> bool:
    with store.sessions() as session:
        rows = session.scalars(select(RmmIntegration)).all()
    return rows == [] and store.secrets.names(TENANT) == []


def stored_credentials(store: Store) -> dict[str, Any]:
    raw = store.secrets.get(TENANT, "ninjaone_credentials")
    assert raw is not None
    data: dict[str, Any] = json.loads(raw.get_secret_value())
    return data


def test_connect_checks_with_one_read_and_stores_the_rotated_token(
    cli: CliRunner, store: Store, ninja: Ninja, tmp_path: Path
) -> None:
    code, out, err = run(cli, *connect_args(ninja, tmp_path))
    assert code == 0, err
    assert out.splitlines() == [
        f"connected ninjaone for tenant {TENANT} (secrets stored: ninjaone_client_id, "
        "ninjaone_client_secret, ninjaone_refresh_token, ninjaone_credentials)",
        "checked: token accepted, organizations readable (first: Contoso Dental)",
    ]
    # One token exchange and one read-only API call, nothing else.
    assert [(r.method, r.path) for r in ninja.fake.requests] == [
        ("POST", "/ws/oauth/token"),
        ("GET", "/v2/organizations"),
    ]
    assert ninja.fake.requests[1].query == {"pageSize": ["1"]}
    # The seed was rotated away by the check; what is stored is the new one.
    creds = stored_credentials(store)
    assert not ninja.fake.refresh_token_valid(ninja.refresh_token)
    assert ninja.fake.refresh_token_valid(creds["refresh_token"])
    with store.sessions() as session:
        row = session.scalars(select(RmmIntegration)).one()
    assert (row.provider, row.instance_url, row.is_active) == ("ninjaone", ninja.url, True)
    for value in (CANARY, ninja.refresh_token, creds["refresh_token"], creds["access_token"]):
        assert value not in out + err

    # Stored credentials stand in for the pasted token: connecting again needs no secrets.
    code, out, err = run(cli, "connect", "ninjaone", "--tenant", TENANT, "--url", ninja.url)
    assert code == 0, err
    assert "checked: token accepted" in out


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"ninjaone_client_secret": "wrong-secret-value"}, "ninjaone_client_secret"),
        ({}, "ninjaone_refresh_token"),  # the seed is revoked below
    ],
)
def test_connect_with_refused_credentials_is_one_line_exit_2_and_stores_nothing(
    cli: CliRunner,
    store: Store,
    ninja: Ninja,
    tmp_path: Path,
    override: dict[str, str],
    named: str,
) -> None:
    if not override:
        ninja.fake.revoke_refresh_token(ninja.refresh_token)
    code, out, err = run(cli, *connect_args(ninja, tmp_path, **override))
    assert code == 2
    line = one_error_line(err)
    assert "NinjaOne connection check failed, nothing stored" in line
    assert f"--secret {named}=@file" in line
    assert out == ""
    assert nothing_stored(store)
    assert CANARY not in err and ninja.refresh_token not in err and "wrong-secret" not in err


def test_connect_with_a_missing_secret_names_it_and_calls_no_vendor(
    cli: CliRunner, store: Store, ninja: Ninja
) -> None:
    code, _, err = run(
        cli,
        "connect",
        "ninjaone",
        "--tenant",
        TENANT,
        "--url",
        ninja.url,
        "--secret",
        f"ninjaone_client_id={CLIENT_ID}",
    )
    assert code == 2
    assert one_error_line(err) == (
        "error: ninjaone needs the secrets ninjaone_client_secret, ninjaone_refresh_token "
        f"for tenant {TENANT}: give --secret ninjaone_client_secret=@file "
        "--secret ninjaone_refresh_token=@file (or NAME=VALUE)"
    )
    assert ninja.fake.requests == []
    assert nothing_stored(store)


def test_no_check_stores_without_calling_the_vendor(
    cli: CliRunner, store: Store, ninja: Ninja, tmp_path: Path
) -> None:
    code, out, err = run(cli, *connect_args(ninja, tmp_path), "--no-check")
    assert code == 0, err
    assert out.splitlines()[-1] == (
        f"not checked (--no-check): patchbay connections test --tenant {TENANT} checks it"
    )
    assert ninja.fake.requests == []
    assert store.secrets.names(TENANT) == [
        "ninjaone_client_id",
        "ninjaone_client_secret",
        "ninjaone_refresh_token",
    ]
    assert ninja.fake.refresh_token_valid(ninja.refresh_token)


def test_connect_names_an_unreachable_host(
    cli: CliRunner, store: Store, ninja: Ninja, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    args = connect_args(ninja, tmp_path)
    args[args.index(ninja.url)] = closed
    code, _, err = run(cli, *args)
    assert code == 2
    line = one_error_line(err)
    assert f"NinjaOne at {closed} is unreachable" in line
    assert "check --url" in line
    assert nothing_stored(store)


def test_connect_names_a_missing_scope(
    cli: CliRunner, store: Store, ninja: Ninja, tmp_path: Path
) -> None:
    ninja.fake.add_client("no-monitoring", CANARY, scopes=("management",))
    token = ninja.fake.issue_refresh_token("no-monitoring")
    args = connect_args(
        ninja, tmp_path, ninjaone_client_id="no-monitoring", ninjaone_refresh_token=token
    )
    code, _, err = run(cli, *args)
    assert code == 2
    line = one_error_line(err)
    assert "refused to list organizations" in line and "monitoring" in line
    assert nothing_stored(store)


@pytest.mark.parametrize(
    ("url", "sandbox", "message"),
    [
        (
            "notaurl",
            "1",
            "error: refusing the vendor URL: 'notaurl' is not a URL; give the vendor's address "
            "with its scheme and host, e.g. https://app.ninjarmm.com",
        ),
        ("{fake}", "0", "only https URLs are allowed (http only to loopback in sandbox mode)"),
    ],
)
def test_connect_refuses_what_is_not_a_vendor_url(
    cli: CliRunner,
    store: Store,
    ninja: Ninja,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    sandbox: str,
    message: str,
) -> None:
    monkeypatch.setenv("PATCHBAY_SANDBOX", sandbox)
    args = connect_args(ninja, tmp_path)
    args[args.index(ninja.url)] = url.format(fake=ninja.url)
    code, _, err = run(cli, *args)
    assert code == 2
    assert message in one_error_line(err)
    assert ninja.fake.requests == []
    assert nothing_stored(store)


@pytest.mark.parametrize("provider", ["huntress", "levelio", "teams"])
def test_connect_refuses_a_vendor_without_actions(cli: CliRunner, provider: str) -> None:
    code, _, err = run(cli, "connect", provider, "--tenant", TENANT, "--secret", "some_key=x")
    assert code == 2
    line = one_error_line(err)
    assert "patchbay has no actions for" in line and f"({provider}) yet" in line
    assert line.endswith("(connectable: ninjaone, tacticalrmm)")


def test_connections_test_checks_again_and_fails_once_the_token_is_revoked(
    cli: CliRunner, store: Store, ninja: Ninja, tmp_path: Path
) -> None:
    assert run(cli, *connect_args(ninja, tmp_path))[0] == 0
    code, out, err = run(cli, "connections", "test", "--json")
    assert code == 0, err
    assert json.loads(out) == [
        {
            "tenant": TENANT,
            "provider": "ninjaone",
            "result": "ok",
            "detail": "token accepted, organizations readable (first: Contoso Dental)",
        }
    ]
    code, out, _ = run(cli, "connections", "test", "--tenant", TENANT)
    assert code == 0
    assert "ok" in out and "ninjaone" in out

    # The user removes patchbay's authorization: every token of the client dies.
    ninja.fake.revoke_client_grants(CLIENT_ID)
    code, out, err = run(cli, "connections", "test", "--json")
    assert code == 1, err
    [row] = json.loads(out)
    assert (row["tenant"], row["provider"], row["result"]) == (TENANT, "ninjaone", "failed")
    assert "--secret ninjaone_refresh_token=@file" in row["detail"]
    code, out, _ = run(cli, "connections", "test")
    assert code == 1
    assert TENANT in out and "ninjaone" in out and "failed" in out
    creds = stored_credentials(store)
    assert creds["refresh_token"] not in out and CANARY not in out


def test_connections_test_refreshes_an_expired_token_and_stores_the_new_one(
    cli: CliRunner, store: Store, ninja: Ninja, tmp_path: Path
) -> None:
    assert run(cli, *connect_args(ninja, tmp_path))[0] == 0
    before = stored_credentials(store)
    ninja.fake.expire_access_tokens()
    code, _, err = run(cli, "connections", "test")
    assert code == 0, err
    after = stored_credentials(store)
    assert after["refresh_token"] != before["refresh_token"]
    assert ninja.fake.refresh_token_valid(after["refresh_token"])


def test_connections_test_of_an_unknown_tenant_is_one_line(cli: CliRunner) -> None:
    code, _, err = run(cli, "connections", "test", "--tenant", "nobody")
    assert code == 2
    assert one_error_line(err).startswith("error: unknown tenant 'nobody'")
