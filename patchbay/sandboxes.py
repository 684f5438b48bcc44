"""Start every fake vendor on loopback, seeded, and say how to connect a tenant to them.

Used by ``patchbay sandbox`` (for people building workflows offline) and by
``patchbay demo``. Which fakes there are is :data:`sandbox.registry.FAKES`;
what to type to connect a tenant to one is its vendor's ``connect_hints``
(``catalog.vendors``), declared in the vendor's own package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog.bootstrap import build_catalog
from catalog.registration import Catalog
from sandbox.core import RunningServer
from sandbox.microsoft import FakeMicrosoft
from sandbox.ninjaone import FakeNinjaOne
from sandbox.registry import FAKES, SandboxOptions, ServableFake

_SANDBOX_MODE_LINE = (
    "export PATCHBAY_SANDBOX=1  # for every patchbay command and worker: "
    "loopback vendor URLs are refused without it"
)


@dataclass
class SandboxRun:
    """Running fakes (by registry name), their seed data and base URLs."""

    fakes: dict[str, ServableFake]
    servers: dict[str, RunningServer]
    seeds: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ninjaone(self) -> FakeNinjaOne:
        fake = self.fakes["ninjaone"]
        assert isinstance(fake, FakeNinjaOne)
        return fake

    @property
    def microsoft(self) -> FakeMicrosoft:
        fake = self.fakes["microsoft"]
        assert isinstance(fake, FakeMicrosoft)
        return fake

    def url(self, vendor: str) -> str:
        return self.servers[vendor].base_url

    def connect_lines(self, tenant: str, catalog: Catalog | None = None) -> list[str]:
        """The ``patchbay`` commands that connect ``tenant`` to these fakes.

        Each vendor's package says how (``Vendor.connect_hints``); a fake is
        registered under its vendor's provider name.
        """
        vendors = (catalog or build_catalog()).vendors
        lines = [_SANDBOX_MODE_LINE]
        for name in self.fakes:
            vendor = vendors.get(name)
            if vendor is not None and vendor.connect_hints is not None:
                lines += vendor.connect_hints(self.url(name), self.seeds[name], tenant)
        return lines

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()


def start_sandbox(port: int = 0, *, script_result_delay: float = 2.0) -> SandboxRun:
    """Serve every fake of the registry, seeded; the i-th on ``port + i`` if ``port`` is not 0."""
    options = SandboxOptions(script_result_delay=script_result_delay)
    fakes = {entry.name: entry.make(options) for entry in FAKES}
    seeds = {name: fake.seed_demo() for name, fake in fakes.items()}
    servers: dict[str, RunningServer] = {}
    try:
        for i, (name, fake) in enumerate(fakes.items()):
            servers[name] = fake.serve(port=port + i if port else 0)
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return SandboxRun(fakes=fakes, servers=servers, seeds=seeds)
