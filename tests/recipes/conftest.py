"""Recipes on the embedded default: ``patchbay recipe run`` in-process against a running sandbox.

Each test gets its own SQLite store, a sandbox of its own (every fake on
loopback, seeded) and the tenant ``acme`` connected to all of it by
``patchbay sandbox connect`` (NinjaOne, Tactical RMM, Level, Huntress, the
technician ``tech1``'s calendar, Teams with ``tech1`` linked to the demo's
Adele and the Service Desk channel recorded): exactly what the README tells
users to run. The commands run in-process (``CliRunner``), with the
in-process worker ``patchbay recipe run`` starts on the embedded broker.
The recipes through a real worker process are in
``tests/e2e/test_recipes_e2e.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner

from executor.settings import Settings
from patchbay.cli import app
from patchbay.sandboxes import SandboxRun, start_sandbox
from sandbox.registry import FAKES
from store import Store
from tests.sandbox.test_registry import consecutive_free_ports

TENANT = "acme"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite: what the embedded default runs on (the e2e tests run on PostgreSQL)."""
    return str(request.param)


@dataclass
class Result:
    """One command's exit code and output."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Bench:
    """The sandbox, the store, and the CLI pointed at both."""

    sandbox: SandboxRun
    port: int
    store: Store
    runner: CliRunner

    def cli(self, *args: str) -> Result:
        result = self.runner.invoke(app, list(args))
        return Result(result.exit_code, result.stdout, result.stderr)

    def ok(self, *args: str) -> str:
        """Run a command that must succeed; its stdout."""
        done = self.cli(*args)
        assert done.code == 0, done.out + done.err
        return done.out

    def recipe(self, name: str, data: dict[str, Any], *extra: str) -> Result:
        """``patchbay recipe run NAME --tenant acme --input JSON [extra...]``."""
        return self.cli(
            "recipe", "run", name, "--tenant", TENANT, "--input", json.dumps(data), *extra
        )

    def action(self, action: str, data: dict[str, Any]) -> dict[str, Any]:
        """``patchbay run`` one action that must succeed; its output."""
        outcome = json.loads(
            self.ok("run", action, "--tenant", TENANT, "--input", json.dumps(data))
        )
        assert outcome["status"] == "SUCCEEDED", outcome
        output: dict[str, Any] = outcome["output"]
        return output

    def user_id(self, username: str) -> str:
        users = json.loads(self.ok("user", "list", "--tenant", TENANT, "--json"))
        return str(next(u["user_id"] for u in users if u["username"] == username))


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxRun, int]]:
    """A sandbox on a first port of its own (``patchbay sandbox --port P``)."""
    for _attempt in range(5):
        port = consecutive_free_ports(len(FAKES))
        try:
            run = start_sandbox(port, script_result_delay=0.5)
        except OSError:
            continue
        try:
            yield run, port
        finally:
            run.stop()
        return
    pytest.fail("never found consecutive free ports")


@pytest.fixture
def bench(
    settings: Settings,
    store: Store,
    sandbox: tuple[SandboxRun, int],
    monkeypatch: pytest.MonkeyPatch,
) -> Bench:
    """``acme`` connected to every fake by ``patchbay sandbox connect`` (embedded broker)."""
    monkeypatch.setenv("PATCHBAY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", str(settings.database_url))
    assert settings.secret_key is not None
    monkeypatch.setenv("PATCHBAY_SECRET_KEY", settings.secret_key.get_secret_value())
    monkeypatch.setenv("PATCHBAY_SANDBOX", "1")
    monkeypatch.setenv("PATCHBAY_RETRY_BACKOFF", "0.1")
    monkeypatch.setenv("PATCHBAY_RATE_LIMITS", json.dumps({"huntress": "600/m"}))
    for name in ("PATCHBAY_BROKER_URL", "PATCHBAY_RESULT_BACKEND", "PATCHBAY_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    run, port = sandbox
    b = Bench(run, port, store, CliRunner())
    b.ok("sandbox", "connect", "--tenant", TENANT, "--port", str(port))
    return b
