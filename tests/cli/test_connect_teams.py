"""``patchbay connect teams``: the set-up as settings, both tokens checked, stored only then.

Against FakeMicrosoft on loopback (sandbox mode lets its ``http://`` URL
through as the login and Graph URLs). The check obtains a Graph token for
the profile app and a Bot Framework token for the bot, and nothing else:
a wrong secret or password stores nothing and is never printed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from executor.settings import Settings
from sandbox.core import RunningServer
from sandbox.microsoft import DEMO_TEAMS_APP_ID, DEMO_TENANT_ID, FakeMicrosoft
from store import Store
from store.models import MicrosoftProfile, TeamsIntegration, TenantAddon
from tests.cli.support import invoke
from tests.integrations.connect_support import nothing_stored, sandbox_cli
from tests.sandbox.test_sandbox_cli import one_error_line

TENANT = "acme"
PSA = "https://psa.example.com"
CLIENT_ID = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
OTHER_CLIENT_ID = "6f5e4d3c-2b1a-4f0e-9d8c-7b6a5f4e3d2c"
BOT_ID = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
CLIENT_SECRET = "CANARY-teams-client-secret-7e1"
OTHER_SECRET = "CANARY-teams-other-secret-4b2"
BOT_PASSWORD = "CANARY-teams-bot-password-9c3"
WRONG = "CANARY-wrong-value-0000"
CANARIES = (CLIENT_SECRET, OTHER_SECRET, BOT_PASSWORD, WRONG)
GRAPH_TOKEN = f"/{DEMO_TENANT_ID}/oauth2/v2.0/token"
BOT_TOKEN = "/botframework.com/oauth2/v2.0/token"


@pytest.fixture
def fake() -> FakeMicrosoft:
    microsoft = FakeMicrosoft()
    microsoft.seed_demo()
    microsoft.add_app(DEMO_TENANT_ID, CLIENT_ID, CLIENT_SECRET)
    microsoft.add_app(DEMO_TENANT_ID, OTHER_CLIENT_ID, OTHER_SECRET)
    microsoft.add_bot(BOT_ID, BOT_PASSWORD)
    return microsoft


@pytest.fixture
def server(fake: FakeMicrosoft) -> Iterator[RunningServer]:
    with fake.serve() as running:
        yield running


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    return sandbox_cli(settings, monkeypatch, TENANT)


def settings_args(url: str, override: dict[str, str | None]) -> list[str]:
    values: dict[str, str | None] = {
        "client_id": CLIENT_ID,
        "aad_tenant": DEMO_TENANT_ID,
        "app_id": DEMO_TEAMS_APP_ID,
        "bot_app_id": BOT_ID,
        "login_url": url,
        "graph_url": url,
        **override,
    }
    return [a for n, v in values.items() if v is not None for a in ("--setting", f"{n}={v}")]


def connect(
    cli: CliRunner,
    url: str,
    tmp_path: Path,
    *,
    client_secret: str | None = CLIENT_SECRET,
    bot_password: str | None = BOT_PASSWORD,
    psa: str = PSA,
    settings: dict[str, str | None] | None = None,
) -> tuple[int, str, str]:
    """``patchbay connect teams`` with the good set-up but ``settings`` (None: left out)."""
    secrets: list[str] = []
    if client_secret is not None:
        secrets += ["--secret", f"teams_client_secret={client_secret}"]
    if bot_password is not None:
        path = tmp_path / "bot-password"
        path.write_text(bot_password + "\n")
        secrets += ["--secret", f"teams_bot_password=@{path}"]
    return invoke(
        cli, "connect", "teams", "--tenant", TENANT, "--url", psa,
        *settings_args(url, settings or {}), *secrets,
    )  # fmt: skip


def teams_stored_nothing(store: Store) -> bool:
    """No Teams row, profile, add-on or secret: a refused connect left nothing."""
    with store.sessions() as session:
        rows = [
            *session.scalars(select(TeamsIntegration)).all(),
            *session.scalars(select(MicrosoftProfile)).all(),
            *session.scalars(select(TenantAddon)).all(),
        ]
    return rows == [] and nothing_stored(store, TENANT)


def stored_setup(store: Store) -> tuple[TeamsIntegration, MicrosoftProfile]:
    with store.sessions() as session:
        row = session.scalars(select(TeamsIntegration)).one()
        profile = session.scalars(select(MicrosoftProfile)).one()
    return row, profile


def test_connect_checks_both_tokens_then_stores_the_set_up(
    cli: CliRunner, store: Store, fake: FakeMicrosoft, server: RunningServer, tmp_path: Path
) -> None:
    code, out, err = connect(cli, server.base_url, tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("connected teams for tenant acme (")
    assert lines[0].endswith("secrets stored: teams_client_secret, teams_bot_password)")
    assert lines[1] == (
        f"checked: Graph token obtained for the profile app {CLIENT_ID} ({DEMO_TENANT_ID}) "
        f"and a Bot Framework token for the bot {BOT_ID} (botframework.com); Teams app "
        f"{DEMO_TEAMS_APP_ID}. Whether the app is installed for a user, or the bot in a team, "
        "is known only when a step tries"
    )
    [graph] = fake.calls("POST", GRAPH_TOKEN)
    [bot] = fake.calls("POST", BOT_TOKEN)
    assert (graph.status, graph.body["client_id"], graph.body["scope"]) == (
        200,
        CLIENT_ID,
        "https://graph.microsoft.com/.default",
    )
    assert (bot.status, bot.body["client_id"], bot.body["scope"]) == (
        200,
        BOT_ID,
        "https://api.botframework.com/.default",
    )
    assert len(fake.calls()) == 2  # no notification, no message

    row, profile = stored_setup(store)
    assert (row.tenant, row.install_status, row.app_id, row.bot_id) == (
        TENANT,
        "active",
        DEMO_TEAMS_APP_ID,
        BOT_ID,
    )
    assert row.selected_profile_id == profile.profile_id
    assert row.package_metadata["baseUrl"] == PSA
    assert row.package_metadata["loginUrl"] == server.base_url
    assert row.package_metadata["graphUrl"] == server.base_url
    assert row.enabled_capabilities == ["activity_notifications"]
    assert (profile.client_id, profile.tenant_id_aad, profile.client_secret_ref) == (
        CLIENT_ID,
        DEMO_TENANT_ID,
        "teams_client_secret",
    )
    for name, value in (
        ("teams_client_secret", CLIENT_SECRET),
        ("teams_bot_password", BOT_PASSWORD),
    ):
        secret = store.secrets.get(TENANT, name)
        assert secret is not None and secret.get_secret_value() == value

    # connections test re-checks with what was stored.
    code, test_out, err = invoke(cli, "connections", "test", "--tenant", TENANT, "--json")
    assert code == 0, err
    [result] = json.loads(test_out)
    assert (result["provider"], result["result"]) == ("teams", "ok")
    assert "Graph token obtained" in result["detail"]
    assert "Bot Framework token" in result["detail"]
    assert len(fake.calls("POST", GRAPH_TOKEN)) == len(fake.calls("POST", BOT_TOKEN)) == 2

    code, palette, err = invoke(cli, "palette", "--tenant", TENANT, "--json")
    assert code == 0, err
    assert "app:teams" in palette
    for text in (out, err, test_out):
        for canary in CANARIES:
            assert canary not in text


@pytest.mark.parametrize("missing", ["client_id", "aad_tenant", "app_id", "bot_app_id"])
def test_a_missing_required_setting_is_named_with_its_form(
    cli: CliRunner,
    store: Store,
    fake: FakeMicrosoft,
    server: RunningServer,
    tmp_path: Path,
    missing: str,
) -> None:
    code, out, err = connect(cli, server.base_url, tmp_path, settings={missing: None})
    assert (code, out) == (2, "")
    line = one_error_line(err)
    assert line.startswith(f"error: teams needs the setting {missing} for tenant acme: give ")
    assert f"--setting {missing}=" in line
    assert fake.calls() == []
    assert teams_stored_nothing(store)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("client_id", "not-a-guid"),
        ("app_id", "3f6a2b1c9d8e4f7ab6c5d4e3f2a1b0c9x"),
        ("bot_app_id", "c4d5e6f7-8a9b-4c0d-9e1f"),
        ("aad_tenant", "not a tenant"),
        ("activity_notifications", "maybe"),
        ("login_url", "ftp://login.microsoftonline.com"),
    ],
)
def test_a_malformed_setting_is_refused_before_any_request(
    cli: CliRunner,
    store: Store,
    fake: FakeMicrosoft,
    server: RunningServer,
    tmp_path: Path,
    setting: str,
    value: str,
) -> None:
    code, out, err = connect(cli, server.base_url, tmp_path, settings={setting: value})
    assert (code, out) == (2, "")
    assert one_error_line(err).startswith(f"error: --setting {setting}: '{value}' is not")
    assert fake.calls() == []
    assert teams_stored_nothing(store)


@pytest.mark.parametrize(
    ("client_secret", "bot_password", "missing"),
    [
        (None, BOT_PASSWORD, "teams_client_secret"),
        (CLIENT_SECRET, None, "teams_bot_password"),
    ],
)
def test_a_missing_secret_is_named(
    cli: CliRunner,
    store: Store,
    fake: FakeMicrosoft,
    server: RunningServer,
    tmp_path: Path,
    client_secret: str | None,
    bot_password: str | None,
    missing: str,
) -> None:
    code, out, err = connect(
        cli, server.base_url, tmp_path, client_secret=client_secret, bot_password=bot_password
    )
    assert (code, out) == (2, "")
    line = one_error_line(err)
    assert line.startswith(f"error: teams needs the secret {missing} for tenant acme: give ")
    assert f"--secret {missing}=@file" in line
    assert fake.calls() == []
    assert teams_stored_nothing(store)


@pytest.mark.parametrize(
    ("client_secret", "bot_password", "names"),
    [
        (WRONG, BOT_PASSWORD, (CLIENT_ID, "teams_client_secret")),
        (CLIENT_SECRET, WRONG, (BOT_ID, "teams_bot_password")),
    ],
)
def test_a_wrong_secret_fails_the_check_stores_nothing_and_is_never_printed(
    cli: CliRunner,
    store: Store,
    fake: FakeMicrosoft,
    server: RunningServer,
    tmp_path: Path,
    client_secret: str,
    bot_password: str,
    names: tuple[str, str],
) -> None:
    code, out, err = connect(
        cli, server.base_url, tmp_path, client_secret=client_secret, bot_password=bot_password
    )
    assert (code, out) == (2, "")
    line = one_error_line(err)
    assert line.startswith("error: Microsoft Teams connection check failed, nothing stored: ")
    for name in names:
        assert name in line
    assert any(c.status in (400, 401) for c in fake.calls("POST"))
    assert teams_stored_nothing(store)
    for canary in CANARIES:
        assert canary not in out + err


@pytest.mark.parametrize(
    "psa", ["ftp://psa.example.com", "notaurl", "https://me:pw@psa.example.com"]
)
def test_a_url_that_is_not_an_http_link_is_refused(
    cli: CliRunner,
    store: Store,
    fake: FakeMicrosoft,
    server: RunningServer,
    tmp_path: Path,
    psa: str,
) -> None:
    code, out, err = connect(cli, server.base_url, tmp_path, psa=psa)
    assert (code, out) == (2, "")
    assert one_error_line(err).startswith("error: refusing the URL: ")
    assert "pw@" not in err
    assert fake.calls() == []
    assert teams_stored_nothing(store)


@pytest.mark.parametrize(
    "setting",
    [
        "login_url",
        "graph_url",
    ],
)
def test_a_login_or_graph_url_off_microsofts_hosts_is_refused(
    cli: CliRunner,
    store: Store,
    fake: FakeMicrosoft,
    server: RunningServer,
    tmp_path: Path,
    setting: str,
) -> None:
    # The secret would be posted to the login URL (the Graph token sent to Graph's):
    # a public host that is not Microsoft's is refused before any request.
    evil = "https://login.microsoftonline.com.evil.example"
    code, out, err = connect(cli, server.base_url, tmp_path, settings={setting: evil})
    assert (code, out) == (2, "")
    line = one_error_line(err)
    assert line.startswith("error: Microsoft Teams connection check failed, nothing stored: ")
    assert "login.microsoftonline.com.evil.example" in line
    assert fake.calls() == []
    assert teams_stored_nothing(store)


def test_loopback_login_and_graph_urls_only_in_sandbox_mode(
    cli: CliRunner,
    store: Store,
    fake: FakeMicrosoft,
    server: RunningServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATCHBAY_SANDBOX", "0")
    code, out, err = connect(cli, server.base_url, tmp_path)
    assert (code, out) == (2, "")
    assert "connection check failed, nothing stored" in one_error_line(err)
    assert fake.calls() == []
    assert teams_stored_nothing(store)


def test_activity_notifications_off_then_on_toggles_the_capability(
    cli: CliRunner, store: Store, fake: FakeMicrosoft, server: RunningServer, tmp_path: Path
) -> None:
    code, _, err = connect(
        cli, server.base_url, tmp_path, settings={"activity_notifications": "off"}
    )
    assert code == 0, err
    assert stored_setup(store)[0].enabled_capabilities == []
    # Connecting again needs no secret: the stored ones are checked.
    on = ["connect", "teams", "--tenant", TENANT, "--url", PSA,
          "--setting", "activity_notifications=on"]  # fmt: skip
    code, out, err = invoke(cli, *on)
    assert code == 0, err
    assert out.splitlines()[0] == "connected teams for tenant acme (activity_notifications=on)"
    assert stored_setup(store)[0].enabled_capabilities == ["activity_notifications"]
    # Given neither way, it stays as it was.
    code, _, err = invoke(cli, "connect", "teams", "--tenant", TENANT, "--url", PSA)
    assert code == 0, err
    assert stored_setup(store)[0].enabled_capabilities == ["activity_notifications"]
    code, _, err = invoke(cli, *on[:-1], "activity_notifications=off")
    assert code == 0, err
    assert stored_setup(store)[0].enabled_capabilities == []


def test_reconnecting_with_another_client_id_updates_the_profile(
    cli: CliRunner, store: Store, fake: FakeMicrosoft, server: RunningServer, tmp_path: Path
) -> None:
    assert connect(cli, server.base_url, tmp_path)[0] == 0
    _, profile = stored_setup(store)
    code, out, err = invoke(
        cli, "connect", "teams", "--tenant", TENANT, "--url", PSA,
        "--setting", f"client_id={OTHER_CLIENT_ID}",
        "--secret", f"teams_client_secret={OTHER_SECRET}",
    )  # fmt: skip
    assert code == 0, err
    assert f"Graph token obtained for the profile app {OTHER_CLIENT_ID}" in out
    assert fake.calls("POST", GRAPH_TOKEN)[-1].body["client_id"] == OTHER_CLIENT_ID
    row2, profile2 = stored_setup(store)
    assert (profile2.profile_id, row2.selected_profile_id) == (
        profile.profile_id,
        profile.profile_id,
    )
    assert (profile2.client_id, profile2.tenant_id_aad) == (OTHER_CLIENT_ID, DEMO_TENANT_ID)
    assert (row2.app_id, row2.bot_id, row2.package_metadata["baseUrl"]) == (
        DEMO_TEAMS_APP_ID,
        BOT_ID,
        PSA,
    )
    secret = store.secrets.get(TENANT, "teams_client_secret")
    assert secret is not None and secret.get_secret_value() == OTHER_SECRET

    # A wrong client id on a reconnect fails the check and leaves the stored one.
    code, _, err = invoke(
        cli, "connect", "teams", "--tenant", TENANT, "--url", PSA,
        "--setting", f"client_id={CLIENT_ID}",
    )  # fmt: skip
    assert code == 2
    assert "connection check failed, nothing stored" in one_error_line(err)
    assert stored_setup(store)[1].client_id == OTHER_CLIENT_ID
    for canary in CANARIES:
        assert canary not in out + err


def test_reconnecting_without_url_checks_the_stored_base_url(
    cli: CliRunner, store: Store, fake: FakeMicrosoft, server: RunningServer, tmp_path: Path
) -> None:
    assert connect(cli, server.base_url, tmp_path)[0] == 0
    code, _, err = invoke(
        cli, "connect", "teams", "--tenant", TENANT, "--setting", "activity_notifications=off"
    )
    assert code == 0, err
    assert stored_setup(store)[0].package_metadata["baseUrl"] == PSA
