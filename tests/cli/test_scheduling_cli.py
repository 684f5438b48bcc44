"""`patchbay user/calendar/run scheduling.create_entry`: end to end on the embedded default."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from executor.settings import Settings
from patchbay.cli import app
from sandbox.microsoft import FakeMicrosoft

SECRET = "cli-graph-CANARY-0b3"


@pytest.fixture
def ms() -> Iterator[tuple[FakeMicrosoft, str]]:
    fake = FakeMicrosoft()
    fake.add_tenant("aad-cli")
    fake.add_app("aad-cli", "app-cli", SECRET)
    fake.add_user("u-1", "tech@cli.example", tenant_id="aad-cli")
    server = fake.serve()
    try:
        yield fake, server.base_url
    finally:
        server.stop()


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_schedule_entry_from_the_cli_lands_in_the_calendar(
    settings: Settings, ms: tuple[FakeMicrosoft, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = ms
    monkeypatch.setenv("PATCHBAY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", str(settings.database_url))
    assert settings.secret_key is not None
    monkeypatch.setenv("PATCHBAY_SECRET_KEY", settings.secret_key.get_secret_value())
    assert invoke("tenant", "create", "acme")[0] == 0
    code, out, err = invoke("user", "add", "tech1", "--tenant", "acme", "--technician")
    assert code == 0, err
    user_id = out.strip()
    code, _, err = invoke(
        "calendar",
        "connect",
        "--tenant",
        "acme",
        "--user",
        "tech1",
        "--account",
        "tech@cli.example",
        "--aad-tenant",
        "aad-cli",
        "--login-url",
        url,
        "--graph-url",
        url,
        "--secret",
        "microsoft_client_id=app-cli",
        "--secret",
        f"microsoft_client_secret={SECRET}",
    )
    assert code == 0, err
    entry = {
        "assigned_user_ids": [user_id],
        "title": "Swap the UPS battery",
        "window": {"start": "2026-12-02T14:00:00Z", "end": "2026-12-02T15:30:00Z"},
    }
    code, out, err = invoke(
        "run", "scheduling.create_entry", "--tenant", "acme", "--input", json.dumps(entry)
    )
    assert code == 0, err
    outcome = json.loads(out)
    assert outcome["status"] == "SUCCEEDED"
    assert outcome["output"]["assigned_user_ids"] == [user_id]
    events = fake.events("tech@cli.example")
    assert [e["subject"] for e in events] == ["Swap the UPS battery"]
    code, out, _ = invoke("invocations", "--tenant", "acme", "--json")
    rows = json.loads(out)
    assert {r["action_id"] for r in rows} == {
        "scheduling.create_entry",
        "scheduling.entries.sync_calendar",
    }
    assert SECRET not in out
    code, out, _ = invoke("user", "list", "--tenant", "acme", "--json")
    assert json.loads(out)[0]["roles"] == ["Technician"]
    code, out, _ = invoke("calendar", "list", "--tenant", "acme", "--json")
    assert json.loads(out)[0]["account"] == "tech@cli.example"


def test_calendar_connect_for_an_unknown_user_exits_2(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATCHBAY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", str(settings.database_url))
    assert settings.secret_key is not None
    monkeypatch.setenv("PATCHBAY_SECRET_KEY", settings.secret_key.get_secret_value())
    invoke("tenant", "create", "acme")
    code, _, err = invoke(
        "calendar",
        "connect",
        "--tenant",
        "acme",
        "--user",
        "nobody",
        "--account",
        "x@y",
        "--aad-tenant",
        "t",
    )
    assert code == 2
    assert "unknown user" in err
