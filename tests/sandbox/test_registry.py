"""The registry of fakes: every vendor's fake is in it, and the sandbox serves them all."""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import socket
from collections.abc import Iterator

import httpx
import pytest

import sandbox
from patchbay.sandboxes import SandboxRun, start_sandbox
from sandbox.core import FakeVendor
from sandbox.microsoft import (
    DEMO_BOT_APP_ID,
    DEMO_BOT_SECRET,
    DEMO_CHANNEL_ID,
    DEMO_PERSONAL_CONVERSATION_ID,
    DEMO_TEAM_ID,
    DEMO_TEAMS_APP_ID,
    FakeMicrosoft,
)
from sandbox.ninjaone import FakeNinjaOne
from sandbox.registry import FAKES, SandboxOptions
from sandbox.tacticalrmm import FakeTacticalRmm
from sandbox.widgets import FakeWidgets

# Not served by ``patchbay sandbox``: the executor's test vendor (no integration
# talks to it, so nobody connects to it).
NOT_SERVED: set[type[FakeVendor]] = {FakeWidgets}


def fakes_in_the_sandbox_package() -> set[type[FakeVendor]]:
    """Every complete fake (a ``Fake*`` subclass of FakeVendor) the sandbox package defines."""
    found: set[type[FakeVendor]] = set()
    for info in pkgutil.walk_packages(sandbox.__path__, "sandbox."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, FakeVendor)
                and value is not FakeVendor
                and value.__module__ == module.__name__
                and value.__name__.startswith("Fake")
            ):
                found.add(value)
    return found


@pytest.fixture
def run() -> Iterator[SandboxRun]:
    running = start_sandbox()
    try:
        yield running
    finally:
        running.stop()


def test_the_registry_lists_every_vendor_fake_once_in_serving_order() -> None:
    # `patchbay sandbox --port P` documents NinjaOne on P, Microsoft on P+1, Tactical RMM on P+2.
    assert [entry.name for entry in FAKES] == [
        "ninjaone",
        "microsoft",
        "tacticalrmm",
        "levelio",
        "huntress",
    ]
    assert len({entry.label for entry in FAKES}) == len(FAKES)
    made: set[type[object]] = {type(entry.make(SandboxOptions())) for entry in FAKES}
    assert made == fakes_in_the_sandbox_package() - NOT_SERVED
    assert FakeNinjaOne in made
    assert FakeMicrosoft in made
    assert FakeTacticalRmm in made


def test_options_reach_the_fake_they_concern() -> None:
    made = {entry.name: entry.make(SandboxOptions(script_result_delay=0.25)) for entry in FAKES}
    ninjaone, tactical = made["ninjaone"], made["tacticalrmm"]
    assert isinstance(ninjaone, FakeNinjaOne)
    assert ninjaone.script_result_delay == 0.25
    assert isinstance(tactical, FakeTacticalRmm)
    assert tactical.script_result_delay == 0.25


def test_start_sandbox_seeds_and_serves_every_registered_fake(run: SandboxRun) -> None:
    names = [entry.name for entry in FAKES]
    assert list(run.fakes) == list(run.servers) == list(run.seeds) == names
    assert len({run.url(name) for name in names}) == len(names)
    for name in names:
        with httpx.Client(base_url=run.url(name)) as client:
            assert client.get("/__sandbox/requests").json() == {"requests": []}
            client.get("/probe")
        fake = run.fakes[name]
        assert isinstance(fake, FakeVendor)
        assert [r.path for r in fake.requests] == ["/probe"]  # each URL serves its own fake
        assert run.seeds[name]
    assert run.ninjaone is run.fakes["ninjaone"]
    assert run.microsoft is run.fakes["microsoft"]
    assert run.tacticalrmm is run.fakes["tacticalrmm"]


def test_stop_stops_every_server() -> None:
    running = start_sandbox()
    urls = [running.url(entry.name) for entry in FAKES]
    running.stop()
    assert running.servers == {}
    for url in urls:
        with pytest.raises(httpx.ConnectError), httpx.Client(base_url=url) as client:
            client.get("/__sandbox/requests")


def consecutive_free_ports(count: int) -> int:
    """A port P such that P .. P+count-1 were free a moment ago."""
    while True:
        with contextlib.ExitStack() as stack:
            first = stack.enter_context(socket.socket())
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            try:
                for offset in range(1, count):
                    other = stack.enter_context(socket.socket())
                    other.bind(("127.0.0.1", port + offset))
            except OSError:
                continue
            return port


def test_a_first_port_puts_the_ith_fake_on_port_plus_i() -> None:
    for _attempt in range(5):
        port = consecutive_free_ports(len(FAKES))
        try:
            running = start_sandbox(port)
        except OSError:
            continue  # another process took one of them meanwhile
        try:
            ports = [running.servers[entry.name].port for entry in FAKES]
            assert ports == [port + i for i in range(len(FAKES))]
        finally:
            running.stop()
        return
    pytest.fail("never found consecutive free ports")


def test_connect_lines_connect_a_tenant_to_every_fake(run: SandboxRun) -> None:
    ninjaone, microsoft = run.url("ninjaone"), run.url("microsoft")
    tactical, level = run.url("tacticalrmm"), run.url("levelio")
    level_key = run.seeds["levelio"]["api_key"]
    huntress, hunt = run.url("huntress"), run.seeds["huntress"]
    refresh_token = run.seeds["ninjaone"]["refresh_token"]
    adele = run.seeds["microsoft"]["users"][0]["id"]
    assert run.connect_lines("acme") == [
        "export PATCHBAY_SANDBOX=1  # for every patchbay command and worker: "
        "loopback vendor URLs are refused without it",
        f"patchbay connect ninjaone --tenant acme --url {ninjaone} "
        "--secret ninjaone_client_id=patchbay-demo-client "
        "--secret ninjaone_client_secret=patchbay-demo-secret "
        f"--secret ninjaone_refresh_token={refresh_token}",
        "patchbay user add tech1 --tenant acme --technician",
        "patchbay calendar connect --tenant acme --user tech1 "
        "--account adele.vance@contoso.onmicrosoft.com "
        "--aad-tenant 7f3b1c2e-0d4a-4e8b-9c1f-5a6b7c8d9e0f "
        f"--login-url {microsoft} --graph-url {microsoft} "
        "--secret microsoft_client_id=5d1e9f0a-3b2c-4d5e-8f6a-7b8c9d0e1f2a "
        "--secret microsoft_client_secret=patchbay-demo-secret",
        "patchbay connect teams --tenant acme --url https://psa.example.com "
        "--setting client_id=5d1e9f0a-3b2c-4d5e-8f6a-7b8c9d0e1f2a "
        "--setting aad_tenant=7f3b1c2e-0d4a-4e8b-9c1f-5a6b7c8d9e0f "
        f"--setting app_id={DEMO_TEAMS_APP_ID} --setting bot_app_id={DEMO_BOT_APP_ID} "
        f"--setting login_url={microsoft} --setting graph_url={microsoft} "
        "--secret teams_client_secret=patchbay-demo-secret "
        f"--secret teams_bot_password={DEMO_BOT_SECRET}",
        f"patchbay teams link-user --tenant acme --user tech1 --microsoft-user {adele}",
        f"patchbay teams reference add --tenant acme --microsoft-user {adele} "
        f"--conversation '{DEMO_PERSONAL_CONVERSATION_ID}' --type personal "
        f"--service-url {microsoft}/amer/ --aad-tenant 7f3b1c2e-0d4a-4e8b-9c1f-5a6b7c8d9e0f",
        f"patchbay teams reference add --tenant acme --microsoft-user {adele} "
        f"--conversation '{DEMO_CHANNEL_ID}' --type channel --team '{DEMO_TEAM_ID}' "
        f"--service-url {microsoft}/amer/ --aad-tenant 7f3b1c2e-0d4a-4e8b-9c1f-5a6b7c8d9e0f",
        f"patchbay connect tacticalrmm --tenant acme --url {tactical} "
        "--secret tacticalrmm_api_key=PATCHBAYDEMOAPIKEY0000000000000001",
        f"patchbay connect levelio --tenant acme --url {level} "
        f"--secret levelio_api_key={level_key}",
        f"patchbay connect huntress --tenant acme --url {huntress} "
        f"--secret huntress_api_key={hunt['api_key']} "
        f"--secret huntress_api_secret={hunt['api_secret']}",
    ]
