"""NinjaOne credentials go only to NinjaOne: the outbound URL policy at connect and at run time.

Run time: a connection row holding a dangerous URL (as rows written before the
policy, or by hand, may) is refused before any request, over the real network
transport (no in-process fake), and a capture server on loopback proves no
connection was opened. The CLI refuses the same URLs at connect time and
stores nothing.
"""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from executor.pipeline import Pipeline
from executor.settings import Settings
from executor.throttle import MemoryThrottle, Throttle
from patchbay.cli import app
from store import Store
from store.models import RmmIntegration
from tests.capture import CaptureServer
from tests.integrations.ninjaone.conftest import (
    CLIENT_SECRET,
    NinjaHarness,
    error_of,
)

LIVE_FIND = ("devices.find", {"live": True})
PASSWORD = "hunter2-CANARY-url-password"
# The URL policy at connect time, without the vendor check (tests/cli/test_connections.py).
NO_CHECK = (
    "--secret",
    "ninjaone_client_id=probe-client",
    "--secret",
    "ninjaone_client_secret=probe-secret",
    "--secret",
    "ninjaone_refresh_token=probe-token",
    "--no-check",
)


def network_pipeline(ninja: NinjaHarness, *, sandbox: bool) -> Pipeline:
    """The harness's pipeline without the in-process fake: requests use the network."""
    return Pipeline(
        catalog=ninja.catalog,
        store=ninja.store,
        settings=ninja.settings.model_copy(update={"sandbox": sandbox}),
        throttle=Throttle(MemoryThrottle(clock=ninja.fake_clock), {}, max_wait=0.0),
        transports={},
        clock=ninja.clock,
        rng=lambda: 0.5,
    )


def point_connection_at(store: Store, url: str) -> None:
    with store.sessions.begin() as session:
        session.execute(update(RmmIntegration).values(instance_url=url))


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}",
        "https://127.0.0.1:{port}",
        "http://2130706433:{port}",
        "http://0x7f000001:{port}",
        "http://[::ffff:127.0.0.1]:{port}",
        "http://localhost:{port}",
        "127.0.0.1:{port}",  # no scheme: https assumed, still loopback
        f"http://admin:{PASSWORD}@127.0.0.1:{{port}}",
    ],
)
def test_a_stored_dangerous_url_is_refused_at_run_time_and_nothing_is_sent(
    ninja: NinjaHarness,
    capture: CaptureServer,
    template: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    ninja.store_tokens()
    point_connection_at(ninja.store, template.format(port=capture.port))
    outcome = network_pipeline(ninja, sandbox=False).execute(ninja.task(*LIVE_FIND))
    error = error_of(outcome)
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert error["retryable"] is False
    assert capture.saw_nothing
    text = json.dumps(error)
    assert PASSWORD not in text and CLIENT_SECRET not in text
    assert caplog.records  # the refusal was logged ...
    assert PASSWORD not in caplog.text  # ... without the URL's password


def test_control_the_same_pipeline_reaches_the_capture_server_in_sandbox_mode(
    ninja: NinjaHarness, capture: CaptureServer
) -> None:
    ninja.store_tokens()
    point_connection_at(ninja.store, f"http://127.0.0.1:{capture.port}")
    network_pipeline(ninja, sandbox=True).execute(ninja.task(*LIVE_FIND))
    assert capture.connections >= 1


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PATCHBAY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", str(settings.database_url))
    assert settings.secret_key is not None
    monkeypatch.setenv("PATCHBAY_SECRET_KEY", settings.secret_key.get_secret_value())
    monkeypatch.setenv("PATCHBAY_SANDBOX", "0")
    return CliRunner()


DANGEROUS_AT_CONNECT = [
    "http://169.254.169.254",
    "http://10.1.2.3:8080",
    "http://2852039166",
    "http://[::ffff:169.254.169.254]",
    "http://example.com",
    "garbage",
    "https://169.254.169.254",
    "https://10.1.2.3:8080",
    "https://2852039166",
    "https://[::ffff:169.254.169.254]",
    "https://0251.0376.0251.0376",
    "https://127.0.0.1",
    "https://localhost",
    "https://ninja.example.com",  # not a NinjaOne host, and no --allow-custom-host
    f"https://admin:{PASSWORD}@eu.ninjarmm.com",
]


@pytest.mark.parametrize("url", DANGEROUS_AT_CONNECT)
def test_connect_refuses_a_dangerous_url_and_stores_nothing(
    cli: CliRunner, store: Store, url: str
) -> None:
    assert cli.invoke(app, ["tenant", "create", "probe"]).exit_code == 0
    result = cli.invoke(
        app,
        ["connect", "ninjaone", "--tenant", "probe", "--url", url, "--secret", "x_token=abcd1234"],
    )
    assert result.exit_code == 2, result.stdout
    assert "refusing the vendor URL" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    with store.sessions() as session:
        assert session.scalars(select(RmmIntegration)).all() == []
    assert store.secrets.get("probe", "x_token") is None


def test_connect_accepts_a_regional_instance_and_a_custom_host_only_when_allowed(
    cli: CliRunner, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.invoke(app, ["tenant", "create", "probe"]).exit_code == 0
    ok = cli.invoke(
        app, ["connect", "ninjaone", "--tenant", "probe", "--url", "eu.ninjarmm.com", *NO_CHECK]
    )
    assert ok.exit_code == 0, ok.stderr
    with store.sessions() as session:
        row = session.scalars(select(RmmIntegration)).one()
        assert (row.instance_url, row.settings.get("allow_custom_host")) == (
            "eu.ninjarmm.com",
            False,
        )
    # A custom host must resolve to a public address; "localhost." does not qualify.
    refused = cli.invoke(
        app,
        [
            "connect",
            "ninjaone",
            "--tenant",
            "probe",
            "--url",
            "https://localhost.",
            "--allow-custom-host",
            *NO_CHECK,
        ],
    )
    assert refused.exit_code == 2


def test_sandbox_mode_lets_connect_take_a_loopback_url(
    cli: CliRunner, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATCHBAY_SANDBOX", "1")
    assert cli.invoke(app, ["tenant", "create", "probe"]).exit_code == 0
    ok = cli.invoke(
        app,
        ["connect", "ninjaone", "--tenant", "probe", "--url", "http://127.0.0.1:8123", *NO_CHECK],
    )
    assert ok.exit_code == 0, ok.stderr
