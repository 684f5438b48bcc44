"""``patchbay token create|list|revoke`` and ``patchbay serve``.

A token is printed once, on stdout alone, and only its hash is stored; lists never show
one; a revoked token is 401 at once. ``patchbay serve`` on nothing configured (a data
directory, nothing else) is a whole system: the API and the in-process worker that
runs what it is sent; SIGTERM ends it cleanly.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from api.app import create_app
from api.context import ApiContext
from executor.api import Executor
from executor.app import ExecutorRuntime
from executor.settings import Settings
from store import Store
from store.models import Base
from store.tenants import create_tenant
from store.tokens import hash_token
from tests.api.support import free_port, served
from tests.cli.support import invoke
from tests.cli.table_text import flat_text, whole_in_table

TENANT = "acme"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(cli_env: Settings, store: Store) -> CliRunner:
    """``patchbay`` on the test's store, with the tenant ``acme``."""
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
    return CliRunner()


def create(cli: CliRunner, scope: str = "run", name: str = "ci") -> str:
    code, out, err = invoke(
        cli, "token", "create", "--tenant", TENANT, "--scope", scope, "--name", name
    )
    assert code == 0, err
    [token] = out.splitlines()
    assert token.startswith("pb_")
    assert token not in err
    assert "shown once" in err
    return token


def database_text(engine: Engine) -> str:
    """Every row of every table, as text."""
    with engine.connect() as conn:
        return "\n".join(
            repr(tuple(row))
            for table in Base.metadata.sorted_tables
            for row in conn.execute(table.select())
        )


def listed(cli: CliRunner) -> tuple[str, list[dict[str, str | None]]]:
    code, table, err = invoke(cli, "token", "list", "--tenant", TENANT)
    assert code == 0, err
    code, out, err = invoke(cli, "token", "list", "--tenant", TENANT, "--json")
    assert code == 0, err
    rows: list[dict[str, str | None]] = json.loads(out)
    return table, rows


def test_a_token_is_printed_once_and_only_its_hash_is_stored(cli: CliRunner, store: Store) -> None:
    token = create(cli, "read", "dashboards")
    stored = database_text(store.engine)
    assert token not in stored
    assert token[3:] not in stored
    assert hash_token(token) in stored

    table, rows = listed(cli)
    [row] = rows
    assert (row["name"], row["scope"], row["revoked_at"], row["last_used_at"]) == (
        "dashboards",
        "read",
        None,
        None,
    )
    assert set(row) == {"token_id", "name", "scope", "created_at", "revoked_at", "last_used_at"}
    assert whole_in_table(table, str(row["token_id"]))
    for text in (flat_text(table), json.dumps(rows)):
        assert token not in text
        assert hash_token(token) not in text
    # A second token is another one.
    assert create(cli, "read", "dashboards") != token


def test_a_revoked_token_is_401_at_once(cli: CliRunner, settings: Settings) -> None:
    token = create(cli, "admin")
    [row] = listed(cli)[1]
    runtime = ExecutorRuntime(settings)
    try:
        with served(create_app(ApiContext(Executor(runtime)))) as base_url:
            client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"})
            with client:
                assert client.get("/v1/actions").status_code == 200
                code, out, err = invoke(
                    cli, "token", "revoke", "--tenant", TENANT, str(row["token_id"])
                )
                assert code == 0, err
                assert out.startswith(f"revoked token {row['token_id']}")
                refused = client.get("/v1/actions")
                assert refused.status_code == 401
                assert refused.json()["code"] == "UNAUTHENTICATED"
    finally:
        runtime.close()
    [row] = listed(cli)[1]
    assert row["revoked_at"] is not None
    assert row["last_used_at"] is not None
    code, out, _ = invoke(cli, "token", "revoke", "--tenant", TENANT, str(row["token_id"]))
    assert code == 0
    assert out.startswith("already revoked")


@pytest.mark.parametrize(
    "args",
    [
        ("token", "create", "--tenant", TENANT, "--scope", "root"),
        ("token", "create", "--tenant", "nobody", "--scope", "read"),
        ("token", "create", "--tenant", TENANT, "--scope", "read", "--name", " "),
        ("token", "list", "--tenant", "nobody"),
        ("token", "revoke", "--tenant", TENANT, "not-a-uuid"),
        ("token", "revoke", "--tenant", TENANT, "00000000-0000-4000-8000-000000000000"),
        ("token", "revoke", "--tenant", "nobody", "00000000-0000-4000-8000-000000000000"),
    ],
    ids=[
        "bad-scope",
        "unknown-tenant",
        "blank-name",
        "list-unknown-tenant",
        "bad-id",
        "unknown-id",
        "revoke-unknown-tenant",
    ],
)
def test_token_refusals_exit_2_in_one_line_and_store_nothing(
    cli: CliRunner, store: Store, args: tuple[str, ...]
) -> None:
    code, out, err = invoke(cli, *args)
    assert code == 2, (out, err)
    assert out == ""
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    assert "pb_" not in database_text(store.engine)


# -- patchbay serve ------------------------------------------------------------------------


def embedded_env(data_dir: Path) -> dict[str, str]:
    """The environment of a user who configured nothing but a data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATCHBAY_")}
    return {**env, "PATCHBAY_DATA_DIR": str(data_dir)}


def patchbay(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patchbay", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def wait_until_listening(process: subprocess.Popen[str], port: int, timeout: float = 60) -> None:
    """Until ``port`` accepts connections (or the server has exited: fail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"patchbay serve exited {process.returncode}: {err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"patchbay serve did not listen on {port} within {timeout}s")


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, dict[str, str]]]:
    """``patchbay serve`` on a free port, embedded default; ended with SIGTERM."""
    env = embedded_env(tmp_path / "data")
    created = patchbay(env, "tenant", "create", TENANT)
    assert created.returncode == 0, created.stderr
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "patchbay", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        wait_until_listening(process, port)
        yield process, f"http://127.0.0.1:{port}", env
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_serve_on_nothing_configured_runs_what_it_is_sent(
    serving: tuple[subprocess.Popen[str], str, dict[str, str]],
) -> None:
    process, base_url, env = serving
    made = patchbay(env, "token", "create", "--tenant", TENANT, "--scope", "run")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        assert client.get("/openapi.json").json()["info"]["title"] == "patchbay"
        sent = client.post(
            "/v1/steps",
            json={"action_id": "tickets.create", "input": {"title": "Served"}},
            headers={"Idempotency-Key": "serve:1"},
        )
        assert sent.status_code == 202, sent.text
        done = client.get("/v1/steps/serve:1", params={"wait": 10})
        assert done.status_code == 200, done.text
        # Nothing else runs steps: the server's own worker did.
        assert (done.json()["status"], done.json()["final"]) == ("SUCCEEDED", True)
        assert done.json()["output"]["ticket"]["title"] == "Served"

    process.terminate()
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "with the in-process worker" in out
    assert token not in out + err
    assert "Traceback" not in err


def test_serve_on_a_busy_port_exits_2_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = patchbay(embedded_env(tmp_path / "data"), "serve", "--port", str(port))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")
    assert len(done.stderr.strip().splitlines()) == 1


def test_serve_with_a_metadata_url_off_microsofts_hosts_exits_2_in_one_line(
    tmp_path: Path,
) -> None:
    env = {
        **embedded_env(tmp_path / "data"),
        "PATCHBAY_BOT_OPENID_METADATA_URL": "https://login.example.com/v1/.well-known/openid",
    }
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = patchbay(env, "serve", "--port", str(port))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: configuration: ")
    assert "PATCHBAY_BOT_OPENID_METADATA_URL" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
