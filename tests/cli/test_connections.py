"""`patchbay connect` checks before it stores; `patchbay connections test` checks again.

Against FakeNinjaOne served on loopback, through the CLI as a user types it:
the URL, the provider, the required secrets and the vendor's own check (one
read-only call) all pass before anything is stored, and a refresh token the
check rotated is what gets stored. Against FakeTacticalRmm: ``--setting``
(an unknown name or value refused with the allowed ones), the secrets each
``auth_mode`` requires, and Knox mode's login stored with the connection.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from catalog.bootstrap import build_catalog
from catalog.registration import register_vendor
from catalog.vendors import Vendor
from executor.settings import Settings
from patchbay.cli import app
from patchbay.cli.connections import ready_vendors
from sandbox.ninjaone import FakeNinjaOne
from sandbox.tacticalrmm import FakeTacticalRmm
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


def test_a_vendor_without_actions_is_not_connectable() -> None:
    catalog = build_catalog()
    register_vendor(
        catalog,
        Vendor(provider="acmerm", label="Acme RMM", connection="rmm", check=lambda ctx: "ok"),
    )
    ready = [v.provider for v in ready_vendors(catalog)]
    assert "acmerm" not in ready
    assert ready == [v.provider for v in catalog.vendors.connectable() if v.provider != "acmerm"]
    assert {"ninjaone", "tacticalrmm", "levelio", "huntress", "teams"} <= set(ready)


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


# -- connection settings: Tactical RMM's auth_mode ------------------------------------------

KNOX_USER = "conn-CANARY-knox-user-6a2f"
KNOX_PASSWORD = "conn-CANARY-knox-password-93d1"
TOTP_USER = "conn-CANARY-totp-user-11b8"


@dataclass
class Tactical:
    fake: FakeTacticalRmm
    url: str


@pytest.fixture
def tactical() -> Iterator[Tactical]:
    fake = FakeTacticalRmm()
    fake.seed_demo()
    fake.add_user(KNOX_USER, KNOX_PASSWORD)
    fake.add_user(TOTP_USER, KNOX_PASSWORD, totp_code="135790")
    with fake.serve() as server:
        yield Tactical(fake, server.base_url)


def tactical_args(tactical: Tactical, tmp_path: Path, *extra: str, **secrets: str) -> list[str]:
    args = ["connect", "tacticalrmm", "--tenant", TENANT, "--url", tactical.url, *extra]
    for name, value in secrets.items():
        path = tmp_path / name
        path.write_text(value + "\n")
        args += ["--secret", f"{name}=@{path}"]
    return args


def knox_args(
    tactical: Tactical, tmp_path: Path, user: str = KNOX_USER, password: str = KNOX_PASSWORD
) -> list[str]:
    return tactical_args(
        tactical,
        tmp_path,
        "--setting",
        "auth_mode=knox",
        tacticalrmm_username=user,
        tacticalrmm_password=password,
    )


def tactical_settings(store: Store) -> dict[str, Any]:
    with store.sessions() as session:
        row = session.scalars(select(RmmIntegration)).one()
    return dict(row.settings)


def test_connect_in_knox_mode_logs_in_with_checkcreds_and_stores_the_token(
    cli: CliRunner,
    store: Store,
    tactical: Tactical,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    code, out, err = run(cli, *knox_args(tactical, tmp_path))
    assert code == 0, err
    assert out.splitlines() == [
        f"connected tacticalrmm for tenant {TENANT} (auth_mode=knox; secrets stored: "
        "tacticalrmm_username, tacticalrmm_password, tacticalrmm_knox_token)",
        "checked: Knox login accepted, 2 clients visible",
    ]
    login, read = tactical.fake.requests
    assert (login.method, login.path, login.status) == ("POST", "/v2/checkcreds/", 200)
    token = store.secrets.get(TENANT, "tacticalrmm_knox_token")
    assert token is not None
    assert (read.method, read.path) == ("GET", "/clients/")
    assert read.headers["authorization"] == f"Token {token.get_secret_value()}"
    assert tactical_settings(store) == {"auth_mode": "knox", "allow_custom_host": False}

    code, out, err = run(cli, "connections", "test", "--json")
    assert code == 0, err
    assert json.loads(out) == [
        {
            "tenant": TENANT,
            "provider": "tacticalrmm",
            "result": "ok",
            "detail": "Knox login accepted, 2 clients visible",
        }
    ]
    # Connecting again keeps the stored mode: no --setting, and no API key needed.
    code, out, err = run(cli, "connect", "tacticalrmm", "--tenant", TENANT, "--url", tactical.url)
    assert code == 0, err
    assert "checked: Knox login accepted" in out
    assert tactical_settings(store)["auth_mode"] == "knox"
    assert tactical.fake.count("POST", "/v2/checkcreds/") == 3
    assert tactical.fake.count(path="/v2/login/") == 0
    newest = store.secrets.get(TENANT, "tacticalrmm_knox_token")
    assert newest is not None
    for text in (out, err, caplog.text):
        for secret in (
            KNOX_USER,
            KNOX_PASSWORD,
            token.get_secret_value(),
            newest.get_secret_value(),
        ):
            assert secret not in text


def test_switching_back_to_an_api_key(
    cli: CliRunner, store: Store, tactical: Tactical, tmp_path: Path
) -> None:
    assert run(cli, *knox_args(tactical, tmp_path))[0] == 0
    key = tactical.fake.add_api_key(KNOX_USER)
    args = tactical_args(
        tactical, tmp_path, "--setting", "auth_mode=api_key", tacticalrmm_api_key=key
    )
    code, out, err = run(cli, *args)
    assert code == 0, err
    assert out.splitlines()[-1] == "checked: API key accepted, 2 clients visible"
    assert tactical_settings(store)["auth_mode"] == "api_key"
    assert tactical.fake.requests[-1].headers["x-api-key"] == key


@pytest.mark.parametrize(
    ("provider", "setting", "message"),
    [
        (
            "tacticalrmm",
            "auth=knox",
            "error: tacticalrmm has no setting 'auth' (settings: auth_mode=api_key|knox)",
        ),
        (
            "tacticalrmm",
            "auth_mode=oauth",
            "error: --setting auth_mode: 'oauth' is not allowed (allowed: api_key, knox)",
        ),
        ("tacticalrmm", "auth_mode", "error: --setting must look like NAME=VALUE"),
        ("ninjaone", "auth_mode=knox", "error: ninjaone has no setting 'auth_mode' "
         "(it takes no settings)"),
    ],
)  # fmt: skip
def test_an_unknown_setting_or_value_is_refused_with_the_allowed_ones(
    cli: CliRunner,
    store: Store,
    tactical: Tactical,
    tmp_path: Path,
    provider: str,
    setting: str,
    message: str,
) -> None:
    args = knox_args(tactical, tmp_path)
    args[1] = provider
    args[args.index("auth_mode=knox")] = setting
    code, out, err = run(cli, *args)
    assert code == 2
    assert one_error_line(err) == message
    assert out == ""
    assert tactical.fake.requests == []
    assert nothing_stored(store)


@pytest.mark.parametrize(
    ("extra", "secrets", "missing"),
    [
        ((), {}, ["tacticalrmm_api_key"]),
        (("--setting", "auth_mode=api_key"), {"tacticalrmm_username": KNOX_USER},
         ["tacticalrmm_api_key"]),
        (("--setting", "auth_mode=knox"), {"tacticalrmm_api_key": "some-key"},
         ["tacticalrmm_username", "tacticalrmm_password"]),
        (("--setting", "auth_mode=knox"), {"tacticalrmm_username": KNOX_USER},
         ["tacticalrmm_password"]),
    ],
)  # fmt: skip
def test_the_secrets_required_depend_on_the_auth_mode(
    cli: CliRunner,
    store: Store,
    tactical: Tactical,
    tmp_path: Path,
    extra: tuple[str, ...],
    secrets: dict[str, str],
    missing: list[str],
) -> None:
    code, _, err = run(cli, *tactical_args(tactical, tmp_path, *extra, **secrets))
    assert code == 2
    plural = "s" if len(missing) > 1 else ""
    assert one_error_line(err) == (
        f"error: tacticalrmm needs the secret{plural} {', '.join(missing)} for tenant {TENANT}: "
        "give " + " ".join(f"--secret {n}=@file" for n in missing) + " (or NAME=VALUE)"
    )
    assert tactical.fake.requests == []
    assert nothing_stored(store)


@pytest.mark.parametrize(
    ("user", "password", "said"),
    [
        (
            TOTP_USER,
            KNOX_PASSWORD,
            "--setting auth_mode=api_key --secret tacticalrmm_api_key=@file",
        ),
        (KNOX_USER, "conn-CANARY-wrong-password-4c", "(400: Bad credentials)"),
    ],
)
def test_a_knox_login_that_cannot_work_is_refused_and_nothing_is_stored(
    cli: CliRunner,
    store: Store,
    tactical: Tactical,
    tmp_path: Path,
    user: str,
    password: str,
    said: str,
) -> None:
    code, out, err = run(cli, *knox_args(tactical, tmp_path, user, password))
    assert code == 2
    line = one_error_line(err)
    assert "Tactical RMM connection check failed, nothing stored" in line
    assert said in line
    assert "--secret tacticalrmm_password=@file" in line or "TOTP" in line
    assert out == ""
    assert nothing_stored(store)
    assert [(r.method, r.path) for r in tactical.fake.requests] == [("POST", "/v2/checkcreds/")]
    assert user not in err and password not in err
