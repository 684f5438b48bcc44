"""`patchbay sandbox`: stable ports, a busy port in one line, and `sandbox connect`.

`sandbox connect` talks to a sandbox that is already running (here in the
test's process, as `patchbay sandbox` would in another shell): each time it
asks the fakes for fresh credentials, so connecting twice works twice. It
connects the tenant to NinjaOne and Tactical RMM, then a technician's
calendar to the Microsoft fake, where a schedule entry then lands, and last
Teams to the same fake, the technician linked to the demo's Adele, so that
notifying, messaging and posting to the demo channel all arrive there.
"""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from executor.settings import Settings
from patchbay.cli import app
from patchbay.cli.sandbox import SANDBOX_PORT
from patchbay.sandboxes import SandboxRun, start_sandbox
from sandbox.microsoft import (
    DEMO_ACCOUNT,
    DEMO_BOT_APP_ID,
    DEMO_CHANNEL_ID,
    DEMO_PERSONAL_CONVERSATION_ID,
    DEMO_TEAM_ID,
    DEMO_TEAMS_APP_ID,
    DEMO_TENANT_ID,
)
from sandbox.registry import FAKES
from store import Store
from tests.sandbox.test_registry import consecutive_free_ports

ROOT = Path(__file__).resolve().parents[2]
URL_LINE = re.compile(r"^\s+(\w+)\s+(http://127\.0\.0\.1:\d+)$")


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PATCHBAY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", str(settings.database_url))
    assert settings.secret_key is not None
    monkeypatch.setenv("PATCHBAY_SECRET_KEY", settings.secret_key.get_secret_value())
    monkeypatch.setenv("PATCHBAY_SANDBOX", "1")
    return CliRunner()


@pytest.fixture
def running() -> Iterator[tuple[SandboxRun, int]]:
    """A sandbox serving on a first port of its own (as `patchbay sandbox --port P`)."""
    for _attempt in range(5):
        port = consecutive_free_ports(len(FAKES))
        try:
            run = start_sandbox(port)
        except OSError:
            continue
        try:
            yield run, port
        finally:
            run.stop()
        return
    pytest.fail("never found consecutive free ports")


def run(cli: CliRunner, *args: str) -> tuple[int, str, str]:
    result = cli.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_sandbox_connect_twice_connects_with_fresh_credentials_each_time(
    cli: CliRunner, store: Store, running: tuple[SandboxRun, int]
) -> None:
    sandbox, port = running
    sandbox.ninjaone.reset()
    code, out, err = run(cli, "sandbox", "connect", "--tenant", "acme", "--port", str(port))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "created tenant acme"
    assert lines[1].startswith("connected ninjaone for tenant acme")
    assert lines[2] == "checked: token accepted, organizations readable (first: Contoso Dental)"
    assert lines[3] == "connected tacticalrmm for tenant acme (secrets stored: tacticalrmm_api_key)"
    assert lines[4] == "checked: API key accepted, 2 clients visible"
    assert lines[5] == "connected levelio for tenant acme (secrets stored: levelio_api_key)"
    assert lines[6].startswith("checked: ")
    assert lines[7].startswith("connected huntress for tenant acme (secrets stored: ")
    assert lines[8].startswith("checked: ")

    code, out, err = run(cli, "sandbox", "connect", "--tenant", "acme", "--port", str(port))
    assert code == 0, err
    assert "created tenant" not in out
    assert "checked: token accepted" in out
    # Each connect presented a refresh token of its own: two exchanges, both accepted.
    tokens = sandbox.ninjaone.calls("POST", "/ws/oauth/token")
    assert [t.status for t in tokens] == [200, 200]
    assert tokens[0].body["refresh_token"] != tokens[1].body["refresh_token"]
    assert "ninjaone" in run(cli, "tenant", "list", "--json")[1]
    assert run(cli, "connections", "test", "--tenant", "acme")[0] == 0
    for t in tokens:
        assert t.body["refresh_token"] not in out + err


def test_sandbox_connect_gives_tactical_rmm_a_key_of_its_own_each_time(
    cli: CliRunner, store: Store, running: tuple[SandboxRun, int]
) -> None:
    sandbox, port = running
    tactical = sandbox.tacticalrmm
    keys = []
    outputs = ""
    for _ in range(2):
        code, out, err = run(cli, "sandbox", "connect", "--tenant", "acme", "--port", str(port))
        assert code == 0, err
        assert "checked: API key accepted, 2 clients visible" in out
        outputs += out + err
        stored = store.secrets.get("acme", "tacticalrmm_api_key")
        assert stored is not None
        keys.append(stored.get_secret_value())
    # Not the key printed at start, which every tenant connected by hand shares.
    assert len({*keys, sandbox.seeds["tacticalrmm"]["api_key"]}) == 3
    checks = tactical.calls("GET", "/clients/")
    assert [(c.headers["x-api-key"], c.status) for c in checks] == [(k, 200) for k in keys]

    # The connection works for actions: a command on the demo's domain controller.
    agent_id = sandbox.seeds["tacticalrmm"]["agent_ids"][0]
    command = {"agent_id": agent_id, "command": "hostname", "shell": "cmd"}
    code, out, err = run(
        cli, "run", "tacticalrmm.agents.run_command", "--tenant", "acme", "--input",
        json.dumps(command),
    )  # fmt: skip
    assert code == 0, out + err
    result = json.loads(out)
    assert (result["status"], result["output"]["output"]) == ("SUCCEEDED", "CONTOSO-DC01\r\n")
    [ran] = tactical.calls("POST", f"/agents/{agent_id}/cmd/")
    assert ran.headers["x-api-key"] == keys[-1]
    for key in keys:
        assert key not in outputs + out + err


TOKEN_PATH = f"/{DEMO_TENANT_ID}/oauth2/v2.0/token"


def create_entry(cli: CliRunner, user_id: str, title: str, day: int) -> None:
    entry = {
        "assigned_user_ids": [user_id],
        "title": title,
        "window": {"start": f"2026-12-{day:02}T14:00:00Z", "end": f"2026-12-{day:02}T15:30:00Z"},
    }
    code, out, err = run(
        cli, "run", "scheduling.create_entry", "--tenant", "acme", "--input", json.dumps(entry)
    )
    assert code == 0, out + err
    assert json.loads(out)["status"] == "SUCCEEDED"


def test_sandbox_connect_connects_a_technicians_calendar_that_entries_reach(
    cli: CliRunner, store: Store, running: tuple[SandboxRun, int]
) -> None:
    sandbox, port = running
    ms = sandbox.microsoft
    code, out, err = run(cli, "sandbox", "connect", "--tenant", "acme", "--port", str(port))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "created tenant acme"
    at = lines.index("created technician tech1 in tenant acme")
    assert lines[at + 1].startswith(f"calendar connected for tech1 ({DEMO_ACCOUNT}): ")
    connection_id = lines[at + 1].rsplit(" ", 1)[1]
    code, users, _ = run(cli, "user", "list", "--tenant", "acme", "--json")
    [tech] = json.loads(users)
    assert (tech["username"], tech["roles"]) == ("tech1", ["Technician"])
    first_id = store.secrets.get("acme", "microsoft_client_id")
    assert first_id is not None
    assert first_id.get_secret_value() != sandbox.seeds["microsoft"]["client_id"]

    create_entry(cli, tech["user_id"], "Swap the UPS battery", day=2)
    assert [e["subject"] for e in ms.events(DEMO_ACCOUNT)] == ["Swap the UPS battery"]
    # The calendar's token (Teams' connect check asked for one with the same app too).
    token = ms.calls("POST", TOKEN_PATH)[-1]
    assert token.body["client_id"] == first_id.get_secret_value()
    assert token.status == 200
    secrets = [token.body["client_secret"]]

    # Again: fresh app credentials, the same connection updated, no second user.
    code, out2, err2 = run(cli, "sandbox", "connect", "--tenant", "acme", "--port", str(port))
    assert code == 0, err2
    assert "created" not in out2
    assert f"calendar connected for tech1 ({DEMO_ACCOUNT}): {connection_id}" in out2.splitlines()
    code, calendars, _ = run(cli, "calendar", "list", "--tenant", "acme", "--json")
    assert [(c["username"], c["account"]) for c in json.loads(calendars)] == [
        ("tech1", DEMO_ACCOUNT)
    ]
    assert len(json.loads(run(cli, "user", "list", "--tenant", "acme", "--json")[1])) == 1
    second_id = store.secrets.get("acme", "microsoft_client_id")
    assert second_id is not None
    assert second_id.get_secret_value() != first_id.get_secret_value()

    # The token cached with the first app dies: the next entry gets one with the second.
    ms.expire_tokens()
    create_entry(cli, tech["user_id"], "Replace the switch", day=3)
    assert sorted(e["subject"] for e in ms.events(DEMO_ACCOUNT)) == [
        "Replace the switch",
        "Swap the UPS battery",
    ]
    last = ms.calls("POST", TOKEN_PATH)[-1]
    assert (last.status, last.body["client_id"]) == (200, second_id.get_secret_value())
    secrets.append(last.body["client_secret"])
    assert secrets[0] != secrets[1]
    for secret in secrets:
        assert secret not in out + err + out2 + err2


def run_step(cli: CliRunner, action: str, step: dict[str, str]) -> dict[str, object]:
    code, out, err = run(cli, "run", action, "--tenant", "acme", "--input", json.dumps(step))
    assert code == 0, out + err
    result = json.loads(out)
    assert result["status"] == "SUCCEEDED", result
    output = result["output"]
    assert isinstance(output, dict)
    return output


def test_sandbox_connect_connects_teams_that_notifies_messages_and_posts(
    cli: CliRunner, store: Store, running: tuple[SandboxRun, int]
) -> None:
    sandbox, port = running
    ms = sandbox.microsoft
    adele = sandbox.seeds["microsoft"]["users"][0]["id"]
    service_url = ms.service_url(sandbox.url("microsoft")).rstrip("/")
    code, out, err = run(cli, "sandbox", "connect", "--tenant", "acme", "--port", str(port))
    assert code == 0, err
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("connected teams "))
    client_id = store.secrets.get("acme", "microsoft_client_id")
    assert client_id is not None
    assert lines[at].startswith(
        f"connected teams for tenant acme (client_id={client_id.get_secret_value()}; "
        f"aad_tenant={DEMO_TENANT_ID}; app_id={DEMO_TEAMS_APP_ID}; bot_app_id={DEMO_BOT_APP_ID}"
    )
    assert lines[at].endswith("secrets stored: teams_client_secret, teams_bot_password)")
    assert lines[at + 1].startswith("checked: Graph token obtained for the profile app ")
    assert lines[at + 2 :] == [
        f"linked tech1 to Microsoft account {adele} ({DEMO_ACCOUNT})",
        f"recorded personal conversation {DEMO_PERSONAL_CONVERSATION_ID} for Microsoft user "
        f"{adele} at {service_url}",
        f"recorded channel conversation {DEMO_CHANNEL_ID} in team {DEMO_TEAM_ID} for Microsoft "
        f"user {adele} at {service_url}",
    ]
    code, palette, err = run(cli, "palette", "--tenant", "acme", "--json")
    assert code == 0, err
    assert "app:teams" in palette
    tech = json.loads(run(cli, "user", "list", "--tenant", "acme", "--json")[1])[0]["user_id"]

    # The minted app has the demo Teams app installed for Adele: the steps reach her.
    notified = run_step(cli, "teams.notify_user", {"user_id": tech, "title": "Ticket 42"})
    assert notified["delivered"] is True
    [notice] = ms.notifications(adele)
    assert notice["teamsAppId"] == DEMO_TEAMS_APP_ID
    sent = run_step(cli, "teams.send_dm", {"user_id": tech, "message": "UPS battery swapped"})
    assert sent["conversation_id"] == DEMO_PERSONAL_CONVERSATION_ID
    assert [m["text"] for m in ms.personal_messages(adele)] == ["UPS battery swapped"]
    posted = run_step(
        cli, "teams.post_to_channel", {"channel_id": DEMO_CHANNEL_ID, "message": "Maintenance"}
    )
    assert posted["service_url_source"] == "team"
    assert [m["text"] for m in ms.channel_messages(DEMO_CHANNEL_ID)] == ["Maintenance"]

    # Again: fresh app credentials in the same profile, the same link and references.
    code, out2, err2 = run(cli, "sandbox", "connect", "--tenant", "acme", "--port", str(port))
    assert code == 0, err2
    assert f"linked tech1 to Microsoft account {adele} ({DEMO_ACCOUNT})" in out2.splitlines()
    [linked] = json.loads(run(cli, "teams", "users", "--tenant", "acme", "--json")[1])
    assert (linked["username"], linked["microsoft_user_id"]) == ("tech1", adele)
    refs = json.loads(run(cli, "teams", "reference", "list", "--tenant", "acme", "--json")[1])
    assert sorted(r["type"] for r in refs) == ["channel", "personal"]
    second = store.secrets.get("acme", "teams_client_secret")
    assert second is not None
    for text in (out, err, out2, err2):
        assert second.get_secret_value() not in text
        assert "patchbay-demo-bot-secret" not in text

    # Another technician: the demo account stays with tech1 (one account, one user).
    code, out3, err3 = run(
        cli, "sandbox", "connect", "--tenant", "acme", "--port", str(port), "--user", "tech2"
    )
    assert code == 0, err3
    assert f"Microsoft account {adele} stays linked to tech1" in out3


def test_sandbox_connect_with_a_blank_user_is_one_line_and_stores_nothing(
    cli: CliRunner, store: Store, running: tuple[SandboxRun, int]
) -> None:
    sandbox, port = running
    code, out, err = run(
        cli, "sandbox", "connect", "--tenant", "acme", "--port", str(port), "--user", " "
    )
    assert (code, out) == (2, "")
    assert one_error_line(err) == "error: --user must name a user (default tech1)"
    assert store.secrets.names("acme") == []
    assert sandbox.microsoft.calls() == []


def test_sandbox_connect_without_a_running_sandbox_is_one_line(
    cli: CliRunner, store: Store
) -> None:
    port = consecutive_free_ports(len(FAKES))
    code, _, err = run(cli, "sandbox", "connect", "--tenant", "acme", "--port", str(port))
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"error: no patchbay sandbox answers at http://127.0.0.1:{port} ")
    assert line.endswith(f"start `patchbay sandbox --port {port}` first")
    assert store.secrets.names("acme") == []
    code, out, _ = run(cli, "tenant", "list", "--json")
    assert (code, out.strip()) == (0, "[]")


def test_sandbox_connect_needs_sandbox_mode(
    cli: CliRunner, running: tuple[SandboxRun, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATCHBAY_SANDBOX", "0")
    _, port = running
    code, _, err = run(cli, "sandbox", "connect", "--tenant", "acme", "--port", str(port))
    assert code == 2
    assert "export PATCHBAY_SANDBOX=1" in one_error_line(err)


def test_a_busy_port_is_one_line_naming_it_and_port(cli: CliRunner) -> None:
    port = consecutive_free_ports(len(FAKES))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port + 1))  # Microsoft's: NinjaOne's port is free
        taken.listen()
        code, out, err = run(cli, "sandbox", "--port", str(port))
    assert code == 2
    assert out == ""
    line = one_error_line(err)
    assert line.startswith(f"error: port {port + 1} is in use")
    assert "--port N" in line
    with socket.socket() as again:  # the fake already started on `port` was stopped
        again.bind(("127.0.0.1", port))


def serve_and_read_urls(tmp_path: Path) -> tuple[dict[str, str], str]:
    """Start `patchbay sandbox` (default port), read its URLs and printout, stop it."""
    env = {**os.environ, "PATCHBAY_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "patchbay", "sandbox"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in proc.stdout or ():
            lines.put(line)

    reader = threading.Thread(target=read)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while not any("/__sandbox/credentials" in x for x in seen):
            assert proc.poll() is None, "".join(seen)
            try:
                seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail("no printout within 30 s:\n" + "".join(seen))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(timeout=30)
        proc.stdout.close()
    urls = {m[1]: m[2] for x in seen if (m := URL_LINE.match(x.rstrip("\n")))}
    return urls, "".join(seen)


def test_the_sandbox_keeps_its_default_ports_across_restarts(tmp_path: Path) -> None:
    first, printout = serve_and_read_urls(tmp_path)
    assert first == {
        entry.name: f"http://127.0.0.1:{SANDBOX_PORT + i}" for i, entry in enumerate(FAKES)
    }
    assert "patchbay sandbox connect --tenant demo" in printout
    assert "technician tech1's Microsoft 365 calendar" in printout
    assert f"patchbay connect tacticalrmm --tenant demo --url {first['tacticalrmm']} " in printout
    for path in ("/__sandbox/requests", "/__sandbox/faults", "/__sandbox/reset"):
        assert path in printout
    second, _ = serve_and_read_urls(tmp_path)
    assert second == first
