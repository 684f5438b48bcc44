"""Start every fake vendor on loopback, seeded, say how to connect a tenant, and mint credentials.

Used by ``patchbay sandbox`` (for people building workflows offline) and by
``patchbay demo``. Which fakes there are is :data:`sandbox.registry.FAKES`;
what to type to connect a tenant to one is its vendor's ``connect_hints``
(``catalog.vendors``), declared in the vendor's own package.

``patchbay sandbox connect`` talks to a sandbox that is already running (in
another process) over HTTP: :func:`mint_sandbox_credentials` asks each fake
whose vendor declares ``sandbox_secrets`` for a fresh credential set (``POST
<url>/__sandbox/credentials``), because the credentials printed at start
rotate on first use (NinjaOne's refresh token) or are shared by every tenant
connected with them (Microsoft's app, Tactical RMM's demo API key). The
Microsoft fake's set also names the Entra tenant and the mailbox
(``tenant_id``, ``account``) a calendar connects to.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Any

import httpx

from catalog.bootstrap import build_catalog
from catalog.registration import Catalog
from catalog.vendors import Vendor
from sandbox.core import RunningServer
from sandbox.microsoft import FakeMicrosoft
from sandbox.ninjaone import FakeNinjaOne
from sandbox.registry import FAKES, SandboxOptions, ServableFake
from sandbox.tacticalrmm import FakeTacticalRmm

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

    @property
    def tacticalrmm(self) -> FakeTacticalRmm:
        fake = self.fakes["tacticalrmm"]
        assert isinstance(fake, FakeTacticalRmm)
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
        served = {entry.name: entry.vendors for entry in FAKES}
        for name in self.fakes:
            for provider in served.get(name, (name,)):
                vendor = vendors.get(provider)
                if vendor is not None and vendor.connect_hints is not None:
                    lines += vendor.connect_hints(self.url(name), self.seeds[name], tenant)
        return lines

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()


class PortInUse(Exception):
    """A port the sandbox needs is taken (by another sandbox or anything else)."""

    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} is in use")
        self.port = port


def sandbox_urls(port: int) -> dict[str, str]:
    """Where a sandbox started on first port ``port`` serves each fake (by registry name)."""
    return {entry.name: f"http://127.0.0.1:{port + i}" for i, entry in enumerate(FAKES)}


def start_sandbox(port: int = 0, *, script_result_delay: float = 2.0) -> SandboxRun:
    """Serve every fake of the registry, seeded; the i-th on ``port + i`` if ``port`` is not 0.

    Raises :class:`PortInUse` naming the first port that is taken.
    """
    options = SandboxOptions(script_result_delay=script_result_delay)
    fakes = {entry.name: entry.make(options) for entry in FAKES}
    seeds = {name: fake.seed_demo() for name, fake in fakes.items()}
    servers: dict[str, RunningServer] = {}
    try:
        for i, (name, fake) in enumerate(fakes.items()):
            try:
                servers[name] = fake.serve(port=port + i if port else 0)
            except OSError as exc:
                if port and exc.errno == errno.EADDRINUSE:
                    raise PortInUse(port + i) from None
                raise
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return SandboxRun(fakes=fakes, servers=servers, seeds=seeds)


class NoSandbox(Exception):
    """Nothing answers as a patchbay sandbox's fake at a URL."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


def mint_sandbox_credentials(port: int, catalog: Catalog) -> list[tuple[Vendor, str, Any]]:
    """A fresh credential set from every fake of the sandbox on ``port`` whose vendor takes one.

    Returns (vendor, the fake's URL, the credential set) for each vendor that
    declares ``sandbox_secrets``; raises :class:`NoSandbox` when a fake does
    not answer (the sandbox is not running on that port) or answers as no fake.
    """
    minted: list[tuple[Vendor, str, Any]] = []
    for name, url in sandbox_urls(port).items():
        vendor = catalog.vendors.get(name)
        if vendor is None or vendor.sandbox_secrets is None:
            continue
        try:
            response = httpx.post(f"{url}/__sandbox/credentials", timeout=5.0, trust_env=False)
        except httpx.TransportError as exc:
            raise NoSandbox(url, type(exc).__name__) from None
        if response.status_code != 201:
            raise NoSandbox(url, f"answered HTTP {response.status_code}, not as the fake {name}")
        minted.append((vendor, url, response.json()))
    return minted
