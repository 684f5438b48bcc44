"""Start every fake vendor on loopback, seeded, and say how to connect a tenant to them.

Used by ``patchbay sandbox`` (for people building workflows offline) and by
``patchbay demo``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.core import RunningServer
from sandbox.microsoft import FakeMicrosoft
from sandbox.ninjaone import FakeNinjaOne


@dataclass
class SandboxRun:
    """Running fakes, their seed data and base URLs."""

    ninjaone: FakeNinjaOne
    microsoft: FakeMicrosoft
    servers: dict[str, RunningServer]
    seeds: dict[str, dict[str, Any]] = field(default_factory=dict)

    def url(self, vendor: str) -> str:
        return self.servers[vendor].base_url

    def connect_lines(self, tenant: str) -> list[str]:
        """The ``patchbay`` commands that connect ``tenant`` to these fakes."""
        ninja = self.seeds["ninjaone"]
        ms = self.seeds["microsoft"]
        first_user = ms["users"][0]["userPrincipalName"]
        return [
            "export PATCHBAY_SANDBOX=1  # for every patchbay command and worker: "
            "loopback vendor URLs are refused without it",
            f"patchbay connect ninjaone --tenant {tenant} --url {self.url('ninjaone')} "
            f"--secret ninjaone_client_id={ninja['client_id']} "
            f"--secret ninjaone_client_secret={ninja['client_secret']} "
            f"--secret ninjaone_refresh_token={ninja['refresh_token']}",
            f"patchbay user add tech1 --tenant {tenant} --technician",
            f"patchbay calendar connect --tenant {tenant} --user tech1 --account {first_user} "
            f"--aad-tenant {ms['tenant_id']} --login-url {self.url('microsoft')} "
            f"--graph-url {self.url('microsoft')} "
            f"--secret microsoft_client_id={ms['client_id']} "
            f"--secret microsoft_client_secret={ms['client_secret']}",
        ]

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()


def start_sandbox(port: int = 0, *, script_result_delay: float = 2.0) -> SandboxRun:
    """Serve seeded FakeNinjaOne and FakeMicrosoft; ``port`` (if not 0) and the next one."""
    ninjaone = FakeNinjaOne(script_result_delay=script_result_delay)
    microsoft = FakeMicrosoft()
    seeds = {"ninjaone": ninjaone.seed_demo(), "microsoft": microsoft.seed_demo()}
    servers: dict[str, RunningServer] = {}
    try:
        servers["ninjaone"] = ninjaone.serve(port=port)
        servers["microsoft"] = microsoft.serve(port=port + 1 if port else 0)
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return SandboxRun(ninjaone=ninjaone, microsoft=microsoft, servers=servers, seeds=seeds)
