"""``patchbay teams``: linking users to Microsoft accounts, recording conversations, listing both.

``link-user`` takes an Entra object id (a GUID) for a user of the tenant
only; ``reference add`` stores a conversation only at a service URL the
bot's token may go to (Microsoft's Bot Connector hosts over https; loopback
only in sandbox mode), and what it stores is what the Teams steps read.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from executor.settings import Settings
from store import Store
from store.models import TeamsConversationReference, UserAuthAccount
from tests.cli.support import invoke
from tests.integrations.connect_support import sandbox_cli
from tests.sandbox.test_sandbox_cli import one_error_line

TENANT = "acme"
OTHER = "globex"
ADELE = "2b7c9d1e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
ALEX = "8e9f0a1b-2c3d-4e5f-a6b7-c8d9e0f1a2b3"
AAD = "7f3b1c2e-0d4a-4e8b-9c1f-5a6b7c8d9e0f"
PERSONAL = "a:1pBdEm0AdeLeVance_q7Xw2Rk9Lm4Tz8Hc5Jn3Vb6Yd1Fg0Ks2Pq7Wm9Er4Ty6Ui8Oa3Sd5Fh7Jk1Lz0Xc2"
TEAM = "19:b8e3a1d2c4f64e0a9d7c5b3a1f2e4d6c@thread.tacv2"
CHANNEL = "19:4d2f6b8a0c1e43f5a7b9d1c3e5f7a9b2@thread.tacv2"
SERVICE_URL = "https://smba.trafficmanager.net/amer/"


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    runner = sandbox_cli(settings, monkeypatch, TENANT)
    for tenant, username in ((TENANT, "tech1"), (TENANT, "tech2"), (OTHER, "mallory")):
        if tenant == OTHER:
            assert invoke(runner, "tenant", "create", OTHER)[0] == 0
        code, _, err = invoke(runner, "user", "add", username, "--tenant", tenant, "--technician")
        assert code == 0, err
    return runner


def user_id(cli: CliRunner, tenant: str, username: str) -> str:
    code, out, err = invoke(cli, "user", "list", "--tenant", tenant, "--json")
    assert code == 0, err
    return str(next(u["user_id"] for u in json.loads(out) if u["username"] == username))


def linked(store: Store) -> list[tuple[str, str, str]]:
    with store.sessions() as session:
        rows = session.scalars(select(UserAuthAccount).order_by(UserAuthAccount.tenant)).all()
        return [(r.tenant, str(r.user_id), r.provider_account_id) for r in rows]


def references(store: Store) -> list[TeamsConversationReference]:
    with store.sessions() as session:
        return list(session.scalars(select(TeamsConversationReference)).all())


def add_reference(cli: CliRunner, *extra: str, url: str = SERVICE_URL) -> tuple[int, str, str]:
    return invoke(
        cli, "teams", "reference", "add", "--tenant", TENANT, "--microsoft-user", ADELE,
        "--conversation", PERSONAL, "--type", "personal", "--service-url", url, *extra,
    )  # fmt: skip


# -- link-user, unlink-user, users -------------------------------------------------------


def test_link_user_records_the_account_and_users_lists_it(cli: CliRunner, store: Store) -> None:
    code, out, err = invoke(
        cli, "teams", "link-user", "--tenant", TENANT, "--user", "tech1",
        "--microsoft-user", ADELE.upper(), "--email", "adele.vance@contoso.onmicrosoft.com",
    )  # fmt: skip
    assert code == 0, err
    # One spelling (lower case), so the link and the references recorded by Teams match.
    assert out == (
        f"linked tech1 to Microsoft account {ADELE} (adele.vance@contoso.onmicrosoft.com)\n"
    )
    tech1 = user_id(cli, TENANT, "tech1")
    assert linked(store) == [(TENANT, tech1, ADELE)]

    code, out, err = invoke(cli, "teams", "users", "--tenant", TENANT, "--json")
    assert code == 0, err
    assert json.loads(out) == [
        {
            "user_id": tech1,
            "username": "tech1",
            "microsoft_user_id": ADELE,
            "email": "adele.vance@contoso.onmicrosoft.com",
            "active": True,
        }
    ]
    code, out, err = invoke(cli, "teams", "users", "--tenant", TENANT, "--wide")
    assert code == 0, err
    assert "tech1" in out and ADELE in out and "adele.vance@contoso.onmicrosoft.com" in out
    assert "tech2" not in out


def test_link_user_by_id_again_replaces_the_account_and_unlink_forgets_it(
    cli: CliRunner, store: Store
) -> None:
    tech1 = user_id(cli, TENANT, "tech1")
    link = ("teams", "link-user", "--tenant", TENANT, "--user", tech1, "--microsoft-user")
    assert invoke(cli, *link, ADELE)[:2] == (0, f"linked tech1 to Microsoft account {ADELE}\n")
    code, out, _ = invoke(cli, *link, ALEX)
    assert (code, out) == (0, f"linked tech1 to Microsoft account {ALEX} (was {ADELE})\n")
    assert linked(store) == [(TENANT, tech1, ALEX)]

    unlink = ("teams", "unlink-user", "--tenant", TENANT, "--user", "tech1")
    assert invoke(cli, *unlink)[:2] == (0, f"unlinked tech1 from Microsoft account {ALEX}\n")
    assert linked(store) == []
    code, out, _ = invoke(cli, *unlink)
    assert (code, out) == (0, "was not linked: tech1 has no Microsoft account\n")
    code, out, _ = invoke(cli, "teams", "users", "--tenant", TENANT)
    assert code == 0
    assert out.startswith(f"no user of tenant {TENANT} has a linked Microsoft account")


@pytest.mark.parametrize(
    "bad",
    [
        "adele.vance@contoso.onmicrosoft.com",
        "2b7c9d1e4f5a4b6c8d7e9f0a1b2c3d4e",  # no hyphens: not how Entra shows an object id
        "{2b7c9d1e-4f5a-4b6c-8d7e-9f0a1b2c3d4e}",
        "2b7c9d1e-4f5a-4b6c-8d7e-9f0a1b2c3d4",
        "",
    ],
)
def test_link_user_refuses_an_id_that_is_not_a_guid(cli: CliRunner, store: Store, bad: str) -> None:
    code, out, err = invoke(
        cli, "teams", "link-user", "--tenant", TENANT, "--user", "tech1", "--microsoft-user", bad
    )
    assert (code, out) == (2, "")
    line = one_error_line(err)
    assert line.startswith("error: --microsoft-user must be a Microsoft Entra object id, a GUID")
    assert linked(store) == []


def test_link_user_refuses_an_unknown_user_or_tenant_naming_it(
    cli: CliRunner, store: Store
) -> None:
    code, _, err = invoke(
        cli, "teams", "link-user", "--tenant", TENANT, "--user", "nobody", "--microsoft-user", ADELE
    )
    assert code == 2
    assert one_error_line(err).startswith("error: unknown user 'nobody' in tenant 'acme'")
    code, _, err = invoke(
        cli, "teams", "link-user", "--tenant", "nope", "--user", "tech1", "--microsoft-user", ADELE
    )
    assert code == 2
    assert "nope" in one_error_line(err)
    code, _, err = invoke(cli, "teams", "unlink-user", "--tenant", TENANT, "--user", "nobody")
    assert code == 2
    assert "'nobody'" in one_error_line(err)
    assert invoke(cli, "teams", "users", "--tenant", "nope")[0] == 2
    assert linked(store) == []


def test_another_tenants_user_cannot_be_linked_or_unlinked_from_this_tenant(
    cli: CliRunner, store: Store
) -> None:
    mallory = user_id(cli, OTHER, "mallory")
    assert (
        invoke(
            cli,
            "teams",
            "link-user",
            "--tenant",
            OTHER,
            "--user",
            "mallory",
            "--microsoft-user",
            ALEX,
        )[0]
        == 0
    )
    for ref in (mallory, "mallory"):
        code, _, err = invoke(
            cli, "teams", "link-user", "--tenant", TENANT, "--user", ref, "--microsoft-user", ADELE
        )
        assert code == 2
        assert one_error_line(err).startswith(f"error: unknown user {ref!r} in tenant 'acme'")
        code, _, err = invoke(cli, "teams", "unlink-user", "--tenant", TENANT, "--user", ref)
        assert code == 2
    assert linked(store) == [(OTHER, mallory, ALEX)]
    # Each tenant sees its own links only.
    assert json.loads(invoke(cli, "teams", "users", "--tenant", TENANT, "--json")[1]) == []
    [row] = json.loads(invoke(cli, "teams", "users", "--tenant", OTHER, "--json")[1])
    assert (row["username"], row["microsoft_user_id"]) == ("mallory", ALEX)
    # The same Microsoft account may be linked in another tenant (another MSP customer).
    code, _, err = invoke(
        cli, "teams", "link-user", "--tenant", TENANT, "--user", "tech1", "--microsoft-user", ALEX
    )
    assert code == 0, err


def test_one_microsoft_account_links_to_one_user_of_a_tenant(cli: CliRunner, store: Store) -> None:
    link = ("teams", "link-user", "--tenant", TENANT, "--microsoft-user", ADELE, "--user")
    assert invoke(cli, *link, "tech1")[0] == 0
    code, out, err = invoke(cli, *link, "tech2")
    assert (code, out) == (2, "")
    line = one_error_line(err)
    assert f"{ADELE} is already linked to user 'tech1'" in line
    assert "patchbay teams unlink-user --tenant acme --user tech1" in line
    assert [a for _, _, a in linked(store)] == [ADELE]
    assert invoke(cli, *link, "tech1")[0] == 0  # linking the same user again is fine


# -- reference add, list, remove ---------------------------------------------------------


def test_reference_add_stores_what_the_steps_read_and_list_shows_it(
    cli: CliRunner, store: Store
) -> None:
    assert (
        invoke(
            cli,
            "teams",
            "link-user",
            "--tenant",
            TENANT,
            "--user",
            "tech1",
            "--microsoft-user",
            ADELE,
        )[0]
        == 0
    )
    code, out, err = add_reference(cli, "--aad-tenant", AAD)
    assert code == 0, err
    assert out == (
        f"recorded personal conversation {PERSONAL} for Microsoft user {ADELE} "
        "at https://smba.trafficmanager.net/amer\n"
    )
    code, out, err = invoke(
        cli, "teams", "reference", "add", "--tenant", TENANT, "--microsoft-user", ADELE.upper(),
        "--conversation", CHANNEL, "--type", "channel", "--team", TEAM, "--channel", CHANNEL,
        "--service-url", "https://smba.trafficmanager.net/emea/", "--aad-tenant", AAD,
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith(f"recorded channel conversation {CHANNEL} in team {TEAM} ")

    by_conversation = {r.conversation_id: r for r in references(store)}
    personal, channel = by_conversation[PERSONAL], by_conversation[CHANNEL]
    assert (personal.tenant, personal.microsoft_user_id, personal.conversation_type) == (
        TENANT,
        ADELE,
        "personal",
    )
    assert (personal.service_url, personal.tenant_id_aad) == (
        "https://smba.trafficmanager.net/amer",
        AAD,
    )
    assert personal.channel_id_bot_framework == "msteams"
    assert personal.last_activity_at is not None
    assert channel.context == {"team_id": TEAM, "channel_id": CHANNEL}

    code, out, err = invoke(cli, "teams", "reference", "list", "--tenant", TENANT, "--json")
    assert code == 0, err
    rows = {r["conversation_id"]: r for r in json.loads(out)}
    assert rows[PERSONAL] | {"last_activity_at": None} == {
        "microsoft_user_id": ADELE,
        "username": "tech1",
        "conversation_id": PERSONAL,
        "type": "personal",
        "service_url": "https://smba.trafficmanager.net/amer",
        "aad_tenant": AAD,
        "team_id": None,
        "channel_id": None,
        "last_activity_at": None,
    }
    assert (rows[CHANNEL]["team_id"], rows[CHANNEL]["channel_id"]) == (TEAM, CHANNEL)
    code, out, err = invoke(cli, "teams", "reference", "list", "--tenant", TENANT, "--wide")
    assert code == 0, err
    for text in (ADELE, "(tech1)", PERSONAL, CHANNEL, f"in team {TEAM}", "emea"):
        assert text in out
    assert (
        json.loads(invoke(cli, "teams", "reference", "list", "--tenant", OTHER, "--json")[1]) == []
    )

    # Recorded again: refreshed in place, not a second row.
    assert add_reference(cli, url="https://smba.trafficmanager.net/emea/")[0] == 0
    assert len(references(store)) == 2
    assert {r.conversation_id: r.service_url for r in references(store)}[PERSONAL].endswith("emea")


def test_reference_remove_forgets_one_conversation(cli: CliRunner, store: Store) -> None:
    assert add_reference(cli)[0] == 0
    remove = ("teams", "reference", "remove", "--tenant", TENANT, "--microsoft-user", ADELE,
              "--conversation", PERSONAL)  # fmt: skip
    code, out, err = invoke(cli, *remove)
    assert (code, out) == (0, f"forgot conversation {PERSONAL} of Microsoft user {ADELE}\n"), err
    assert references(store) == []
    code, out, _ = invoke(cli, *remove)
    assert (code, out.startswith("was not recorded: ")) == (0, True)
    code, out, _ = invoke(cli, "teams", "reference", "list", "--tenant", TENANT)
    assert (code, out.startswith("no Teams conversation recorded for tenant acme")) == (0, True)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://smba.trafficmanager.net.evil.example/amer/", "is not one of this vendor's hosts"),
        ("https://evilbotframework.com/", "is not one of this vendor's hosts"),
        ("https://attacker.trafficmanager.net/amer/", "is not one of this vendor's hosts"),
        ("http://smba.trafficmanager.net/amer/", "only https URLs are allowed"),
        ("https://smba.trafficmanager.net:8443/amer/", "port 8443 is not the Bot Connector's"),
        ("https://smba.trafficmanager.net/amer/?x=1", "a service URL has no query or fragment"),
        ("https://10.0.0.5/amer/", "10.0.0.5"),
        ("notaurl", "has no host"),
    ],
)
def test_reference_add_refuses_a_service_url_the_bots_token_may_not_go_to(
    cli: CliRunner, store: Store, url: str, why: str
) -> None:
    code, out, err = add_reference(cli, url=url)
    assert (code, out) == (2, "")
    line = one_error_line(err)
    assert line.startswith("error: refusing --service-url: ")
    assert why in line
    assert "https://smba.trafficmanager.net/amer/" in line  # what a good one looks like
    assert references(store) == []


def test_a_refused_service_url_never_prints_its_password(cli: CliRunner, store: Store) -> None:
    code, _, err = add_reference(
        cli, url="https://bot:CANARY-hunter2@smba.trafficmanager.net/amer/?sig=CANARY-sig"
    )
    assert code == 2
    assert "may not carry a user name or password" in one_error_line(err)
    assert "CANARY" not in err
    assert references(store) == []


def test_a_loopback_service_url_only_in_sandbox_mode(
    cli: CliRunner, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATCHBAY_SANDBOX", "0")
    code, _, err = add_reference(cli, url="http://127.0.0.1:8791/amer/")
    assert code == 2
    assert "PATCHBAY_SANDBOX=1" in one_error_line(err)
    assert references(store) == []
    monkeypatch.setenv("PATCHBAY_SANDBOX", "1")
    code, out, err = add_reference(cli, url="http://127.0.0.1:8791/amer/")
    assert code == 0, err
    assert out.endswith("at http://127.0.0.1:8791/amer\n")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--type", "group"), "error: --type must be one of personal, groupChat, channel"),
        (("--aad-tenant", "not a tenant"), "error: --aad-tenant must be an Entra tenant id"),
        (("--conversation", "  "), "error: --conversation must name the conversation id"),
        (("--microsoft-user", "adele"), "error: --microsoft-user must be a Microsoft Entra"),
        (("--tenant", "nope"), "error: unknown tenant"),
    ],
)
def test_reference_add_refuses_malformed_options(
    cli: CliRunner, store: Store, extra: tuple[str, str], message: str
) -> None:
    code, out, err = add_reference(cli, *extra)  # a repeated option: the last one counts
    assert (code, out) == (2, "")
    assert one_error_line(err).startswith(message)
    assert references(store) == []
