"""What the read-only commands print at 80 columns: every id whole, no line wider.

``catalog``, ``palette``, ``schemas`` (the list, and one action's field
tables), ``tenant list``, ``user list`` and ``calendar list``, typed as a user
types them into an 80-column terminal; ``--wide`` puts each row on one line.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from catalog.bootstrap import build_catalog
from catalog.designer import action_json_schemas, public_actions
from catalog.schema_fields import schema_fields
from executor.settings import Settings
from patchbay.cli import app
from store import Store
from store import connections as conn
from store.calendars import connect_calendar
from store.tenants import create_tenant
from store.users import create_user
from tests.cli.table_text import column_streams, flat_text, whole_in_table, widest_line

# The views read the same rows on either backend; one is enough here.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

TENANT = "acme-managed-services"
WIDTH = 80
CATALOG = build_catalog()
PUBLIC_KEYS = sorted(s.key for s in public_actions(CATALOG))
# Long enough that a naive table cuts them at 80 columns.
USERS = {
    "bob.the-technician-on-call": "bob.the.technician@contoso-managed-services.example",
    "alice": "alice@example.com",
}


@pytest.fixture
def cli(settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A tenant with NinjaOne connected, two users, and a calendar for one of them."""
    with store.sessions.begin() as session:
        create_tenant(session, TENANT, "Acme Managed Services")
        conn.connect(session, TENANT, "ninjaone", instance_url=None)
        ids = {
            name: create_user(session, TENANT, name, email=email, technician=True).user_id
            for name, email in USERS.items()
        }
        connect_calendar(
            session,
            TENANT,
            ids["bob.the-technician-on-call"],
            provider="microsoft",
            account=USERS["bob.the-technician-on-call"],
        )
    monkeypatch.setenv("PATCHBAY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", str(settings.database_url))
    assert settings.secret_key is not None
    monkeypatch.setenv("PATCHBAY_SECRET_KEY", settings.secret_key.get_secret_value())
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    return CliRunner(env={"COLUMNS": str(WIDTH)})


def show(cli: CliRunner, *args: str) -> str:
    """The command's stdout; it must succeed, and a table fit 80 columns unless ``--wide``."""
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.stderr
    if not {"--wide", "--json"} & set(args):
        assert widest_line(result.stdout) <= WIDTH, result.stdout
    return result.stdout


def assert_whole(out: str, *idents: str) -> None:
    missing = [i for i in idents if not whole_in_table(out, i)]
    assert missing == [], out


def line_with(out: str, text: str) -> str:
    (line,) = [line for line in out.splitlines() if text in line]
    return line


def details(out: str) -> str:
    """A field table's second column (type, required, default; description), spaces removed."""
    return "".join(column_streams(out)[1].split())


def cells(line: str) -> list[str]:
    """A one-line table row's cells."""
    return [cell.strip() for cell in line.split("│")[1:-1]]


# -- catalog and palette ---------------------------------------------------------------


@pytest.mark.parametrize("command", ["catalog", "palette"])
def test_tiles_show_every_group_and_action_whole(cli: CliRunner, command: str) -> None:
    records = json.loads(show(cli, command, "--tenant", TENANT, "--json"))
    assert {r["group_key"] for r in records} >= {"app:ninjaone", "scheduling"}
    out = show(cli, command, "--tenant", TENANT)
    keys = [f"{a['id']}@{a['version']}" for r in records for a in r["actions"]]
    assert_whole(out, *(r["group_key"] for r in records), *keys)
    assert "…" not in out
    assert "ninjaone.devices.find@1 (default)" in out  # the tile's default action


def test_wide_tiles_put_each_group_on_one_line(cli: CliRunner) -> None:
    out = show(cli, "palette", "--tenant", TENANT, "--wide")
    row = line_with(out, "app:ninjaone")
    assert "NinjaOne; app, available" in row
    for action in CATALOG.actions:
        if action.provider == "ninjaone":
            assert action.key in row
    assert widest_line(out) > WIDTH  # one line however wide


# -- schemas -----------------------------------------------------------------------------


def test_schemas_lists_every_action_with_its_summary(cli: CliRunner) -> None:
    out = show(cli, "schemas")
    assert_whole(out, *PUBLIC_KEYS)
    streams = column_streams(out)
    assert streams[0].startswith("action") and "summary" in streams[2]
    reboot = next(s for s in public_actions(CATALOG, "ninjaone.devices.reboot"))
    assert "".join(reboot.ui.description.split()) in "".join(streams[2].split())
    wide = show(cli, "schemas", "--wide")
    assert cells(line_with(wide, "ninjaone.devices.reboot@1")) == [
        "ninjaone.devices.reboot@1",
        "yes",
        reboot.ui.description,
    ]
    assert cells(line_with(wide, "ninjaone.devices.find@1"))[1] == "no"


def test_schemas_json_is_the_json_schemas(cli: CliRunner) -> None:
    assert json.loads(show(cli, "schemas", "--json")) == action_json_schemas(CATALOG)
    one = json.loads(show(cli, "schemas", "--action", "ninjaone.devices.find", "--json"))
    assert one == action_json_schemas(CATALOG, "ninjaone.devices.find")


@pytest.mark.parametrize("action", sorted({k.split("@")[0] for k in PUBLIC_KEYS}))
def test_one_action_shows_every_field_whole_with_its_description(
    cli: CliRunner, action: str
) -> None:
    out = show(cli, "schemas", "--action", action)
    for spec in public_actions(CATALOG, action):
        for part, schema in spec.json_schemas().items():
            assert f"{spec.key} {part}" in out
            fields = schema_fields(schema)
            if not fields:  # e.g. huntress.account.get takes nothing: said so
                assert part == "input", (spec.key, part)
                assert "no fields" in out
                continue
            assert_whole(out, *(f.path for f in fields))
            described = flat_text(out)
            for f in fields:
                assert "".join(f.description.split()).replace("``", "`") in described, f.path


def test_a_field_table_says_type_required_and_default(cli: CliRunner) -> None:
    out = show(cli, "schemas", "--action", "ninjaone.devices.find")
    assert_whole(out, "devices[].source", "devices[].external_device_id")  # arrays flattened
    about = details(out)
    assert "integer1..200;optional,default50" in about  # limit
    assert "boolean;optional,defaultfalse" in about  # live
    assert '"local"|"ninjaone";required' in about  # source
    assert "Setlive:truetoaskNinjaOne" in about  # the mirror says how to ask the vendor
    nested = show(cli, "schemas", "--action", "scheduling.create_entry")
    assert_whole(nested, "window.start", "window.timezone", "link.type", "link.id")
    about = details(nested)
    assert '"ticket"|"project_task";required' in about  # link.type
    assert "arrayofstring(uuid),1..50items,unique;required" in about  # assigned_user_ids
    assert "objectornull;optional,defaultnull" in about  # link


def test_wide_field_table_has_one_line_per_field_in_five_columns(cli: CliRunner) -> None:
    out = show(cli, "schemas", "--action", "ninjaone.devices.run_script", "--wide")
    header = next(line for line in out.splitlines() if "description" in line)  # the input's
    for column in ("field", "type", "required", "default", "description"):
        assert column in header
    row = cells(line_with(out, "│ timeout_seconds "))
    assert row[:4] == ["timeout_seconds", "integer 10..86400", "no", "900"]
    assert row[4].startswith("With wait_for_result: how long to wait")


def test_an_unknown_action_is_one_line_exit_2(cli: CliRunner) -> None:
    result = cli.invoke(app, ["schemas", "--action", "ninjaone.devices.fnd"])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1


# -- tenants, users, calendars ---------------------------------------------------------------


def test_tenant_list_fits(cli: CliRunner) -> None:
    out = show(cli, "tenant", "list")
    assert_whole(out, TENANT, "ninjaone")
    assert "Acme Managed Services" in out


def test_user_list_shows_every_username_and_user_id_whole(cli: CliRunner) -> None:
    users = json.loads(show(cli, "user", "list", "--tenant", TENANT, "--json"))
    assert sorted(u["username"] for u in users) == sorted(USERS)
    out = show(cli, "user", "list", "--tenant", TENANT)
    for user in users:
        assert_whole(out, user["username"], user["user_id"], user["email"])
        # The id people type next is on one line, not folded.
        assert user["user_id"] in out
    wide = show(cli, "user", "list", "--tenant", TENANT, "--wide")
    for user in users:
        row = line_with(wide, user["user_id"])
        assert user["username"] in row and user["email"] in row and "Technician" in row


def test_calendar_list_shows_usernames_and_keeps_ids_in_json(cli: CliRunner) -> None:
    (row,) = json.loads(show(cli, "calendar", "list", "--tenant", TENANT, "--json"))
    assert row["username"] == "bob.the-technician-on-call"
    assert row["user_id"] and row["connection_id"]
    out = show(cli, "calendar", "list", "--tenant", TENANT)
    assert_whole(out, "bob.the-technician-on-call", USERS["bob.the-technician-on-call"])
    assert row["user_id"] not in flat_text(out)
    wide = show(cli, "calendar", "list", "--tenant", TENANT, "--wide")
    line = line_with(wide, "bob.the-technician-on-call")
    assert USERS["bob.the-technician-on-call"] in line and "to_external" in line
