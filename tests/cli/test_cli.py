"""The tenant-admin CLI: what it prints, what it writes, and its exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from executor.settings import Settings
from store import Store
from store.models import Base
from tests.cli.support import invoke

CANARY = "canary-cli-SECRET-99af01"


@pytest.fixture
def cli(cli_env: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    return CliRunner()


run = invoke


def row_counts(store: Store) -> dict[str, int]:
    with store.sessions() as session:
        return {
            t.name: int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }


def test_tenant_create_and_list(cli: CliRunner) -> None:
    assert run(cli, "tenant", "create", "acme", "--name", "Acme MSP")[0] == 0
    code, out, _ = run(cli, "tenant", "list", "--json")
    assert code == 0
    assert json.loads(out) == [{"tenant": "acme", "name": "Acme MSP", "connected": []}]
    code, out, _ = run(cli, "tenant", "list")
    assert code == 0 and "Acme MSP" in out


def test_connect_stores_secrets_and_flips_connection(
    cli: CliRunner, store: Store, tmp_path: Path
) -> None:
    run(cli, "tenant", "create", "acme")
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(CANARY + "-file\n")
    code, out, err = run(
        cli,
        "connect",
        "ninjaone",
        "--tenant",
        "acme",
        "--url",
        "https://eu.ninjarmm.com",
        "--secret",
        f"ninjaone_client_id={CANARY}",
        "--secret",
        f"ninjaone_client_secret=@{secret_file}",
        "--secret",
        "ninjaone_refresh_token=a-refresh-token",
        "--no-check",  # the check against the vendor: tests/cli/test_connections.py
    )
    assert code == 0, err
    assert CANARY not in out + err
    assert "ninjaone_client_id" in out
    key = store.secrets.get("acme", "ninjaone_client_id")
    from_file = store.secrets.get("acme", "ninjaone_client_secret")
    assert key is not None and key.get_secret_value() == CANARY
    assert from_file is not None and from_file.get_secret_value() == CANARY + "-file"
    assert json.loads(run(cli, "tenant", "list", "--json")[1])[0]["connected"] == ["ninjaone"]

    code, out, _ = run(cli, "disconnect", "ninjaone", "--tenant", "acme", "--forget-secrets")
    assert code == 0
    assert "ninjaone_client_id" in out
    assert store.secrets.names("acme") == []
    assert json.loads(run(cli, "tenant", "list", "--json")[1])[0]["connected"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("connect", "datto", "--tenant", "acme"), "unknown provider 'datto'"),
        (("connect", "ninjaone", "--tenant", "nobody"), "unknown tenant 'nobody'"),
        (("connect", "ninjaone", "--tenant", "acme", "--secret", "novalue"), "NAME=VALUE"),
        (
            ("connect", "ninjaone", "--tenant", "acme", "--secret", f"Bad-Name={CANARY}"),
            "invalid secret name",
        ),
        (
            ("connect", "ninjaone", "--tenant", "acme", "--secret", "ok_name=@/no/such/file"),
            "cannot read",
        ),
        (("disconnect", "ninjaone", "--tenant", "nobody"), "unknown tenant"),
        (("palette", "--tenant", "nobody"), "unknown tenant"),
        (("catalog", "--tenant", "nobody"), "unknown tenant"),
        (("tenant", "create", "acme"), "already exists"),
        (("tenant", "create", "no spaces"), "invalid tenant id"),
        (("schemas", "--action", "nobody.has.this"), "Unknown action"),
    ],
)
def test_bad_usage_exits_2_with_one_line_and_writes_nothing(
    cli: CliRunner, store: Store, args: tuple[str, ...], message: str
) -> None:
    run(cli, "tenant", "create", "acme")
    before = row_counts(store)
    code, out, err = run(cli, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0]
    assert CANARY not in out + err
    assert row_counts(store) == before


def test_missing_required_option_is_a_usage_error(cli: CliRunner) -> None:
    code, _, err = run(cli, "palette")
    assert code == 2
    assert "--tenant" in err


def test_palette_and_catalog_views(cli: CliRunner) -> None:
    run(cli, "tenant", "create", "acme")
    code, out, _ = run(cli, "palette", "--tenant", "acme", "--json")
    assert code == 0
    assert isinstance(json.loads(out), list)
    code, out, _ = run(cli, "catalog", "--tenant", "acme", "--json")
    assert code == 0
    assert isinstance(json.loads(out), list)
    code, out, _ = run(cli, "schemas", "--json")
    assert code == 0
    assert isinstance(json.loads(out), dict)


def test_an_unmigrated_configured_database_is_not_migrated_behind_your_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATCHBAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    runner = CliRunner()
    code, _, err = run(runner, "tenant", "list")
    assert code == 2
    assert "patchbay db upgrade" in err
    code, out, _ = run(runner, "db", "upgrade")
    assert code == 0 and "upgraded" in out
    code, out, _ = run(runner, "db", "upgrade")
    assert code == 0 and "already at revision" in out
    assert run(runner, "tenant", "list")[0] == 0


def test_embedded_default_creates_its_database_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PATCHBAY_DATABASE_URL", raising=False)
    monkeypatch.delenv("PATCHBAY_SECRET_KEY", raising=False)
    monkeypatch.setenv("PATCHBAY_DATA_DIR", str(tmp_path / "embedded"))
    runner = CliRunner()
    assert run(runner, "tenant", "create", "solo")[0] == 0
    assert (tmp_path / "embedded" / "patchbay.sqlite").exists()
    assert (tmp_path / "embedded" / "secret.key").exists()
