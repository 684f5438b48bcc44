"""``patchbay levelio ingest``: a Level webhook delivery on stdin, through the receiver.

The delivery is one FakeLevel signs; the command records it once (exit 0),
refuses a replay or a bad signature (exit 1, one line, the secret nowhere),
and ``--json`` says the same for programs.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from executor.settings import Settings
from patchbay.cli import app
from sandbox.levelio import FakeLevel
from store import Store
from store import connections as conn
from store.models import RmmAlert
from store.tenants import create_tenant

TENANT = "acme"
SECRET = "whsec-CANARY-cli-77d2"


def setup(store: Store) -> tuple[FakeLevel, str]:
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
        conn.connect(session, TENANT, "levelio", instance_url="https://api.level.io")
    store.secrets.set(TENANT, "levelio_webhook_secret", SECRET)
    fake = FakeLevel()
    alert_id: str = fake.seed_demo()["alert_ids"][0]
    return fake, alert_id


def test_ingest_records_a_signed_delivery_once(cli_env: Settings, store: Store) -> None:
    fake, alert_id = setup(store)
    body, headers = fake.webhook("alert_active", alert_id, secret=SECRET)
    signature = headers["X-Level-Signature"]
    runner = CliRunner()
    args = ["levelio", "ingest", "--tenant", TENANT, "--signature", signature]
    first = runner.invoke(app, args, input=body)
    assert first.exit_code == 0, first.stdout + first.stderr
    assert f"applied: alert_active for Level alert {alert_id}" in first.stdout
    with store.sessions() as session:
        [row] = session.scalars(select(RmmAlert)).all()
    assert (row.external_alert_id, row.status) == (alert_id, "active")

    again = runner.invoke(app, [*args, "--json"], input=body)
    assert again.exit_code == 1
    answer = json.loads(again.stdout)
    assert (answer["accepted"], answer["reason"]) == (False, "replayed")


def test_ingest_refuses_a_bad_signature_in_one_line(cli_env: Settings, store: Store) -> None:
    fake, alert_id = setup(store)
    body, _ = fake.webhook("alert_active", alert_id, secret=SECRET)
    result = CliRunner().invoke(
        app,
        ["levelio", "ingest", "--tenant", TENANT, "-H", "X-Level-Signature: sha256=00"],
        input=body,
    )
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("refused (bad_signature):")
    assert SECRET not in result.stdout + result.stderr
    with store.sessions() as session:
        assert session.scalars(select(RmmAlert)).all() == []


def test_a_malformed_header_option_is_a_usage_error(cli_env: Settings, store: Store) -> None:
    setup(store)
    result = CliRunner().invoke(
        app, ["levelio", "ingest", "--tenant", TENANT, "-H", "no colon"], input=b"{}"
    )
    assert result.exit_code == 2
    assert "--header must be 'Name: value'" in result.stderr
