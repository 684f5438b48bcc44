"""The fake vendors the sandbox serves, in order: one list for the CLI, the demo and tests.

A fake joins by one entry in :data:`FAKES`; whoever starts the sandbox
builds, seeds and serves every entry (the i-th on ``port + i`` when given a
first port). ``FakeWidgets`` is not here: it stands in for no vendor an
integration talks to, only for the executor's tests and benchmarks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sandbox.core import RunningServer
from sandbox.huntress import FakeHuntress
from sandbox.levelio import FakeLevel
from sandbox.microsoft import FakeMicrosoft
from sandbox.ninjaone import FakeNinjaOne
from sandbox.tacticalrmm import FakeTacticalRmm

__all__ = ["FAKES", "RegisteredFake", "SandboxOptions", "ServableFake"]


class ServableFake(Protocol):
    """What the sandbox needs of a fake: demo data to load, and a loopback server."""

    def seed_demo(self) -> dict[str, Any]:
        """Load the demo data; return what a tenant needs to connect (ids, credentials)."""
        ...

    def serve(self, host: str = ..., port: int = ...) -> RunningServer:
        """Serve the fake over HTTP on ``host:port`` (0 = any free port)."""
        ...


@dataclass(frozen=True)
class SandboxOptions:
    """What the sandbox's caller may choose; each fake's factory reads what concerns it."""

    script_result_delay: float = 2.0
    """Seconds until a script run started without waiting has its result: NinjaOne's
    COMPLETED activity, Tactical RMM's history entry."""


@dataclass(frozen=True)
class RegisteredFake:
    """One fake vendor of the sandbox."""

    name: str
    """Its key: in ``SandboxRun.fakes``/``servers``/``seeds`` and for ``SandboxRun.url``."""
    label: str
    """What people call the vendor it stands in for."""
    make: Callable[[SandboxOptions], ServableFake]
    """A new, empty fake (not yet seeded or served)."""
    also_serves: tuple[str, ...] = ()
    """Other vendors (providers) this fake stands in for besides ``name``: the
    Microsoft fake serves Teams too."""

    @property
    def vendors(self) -> tuple[str, ...]:
        """Every provider this fake stands in for, ``name`` first."""
        return (self.name, *self.also_serves)


def _ninjaone(options: SandboxOptions) -> FakeNinjaOne:
    return FakeNinjaOne(script_result_delay=options.script_result_delay)


def _microsoft(options: SandboxOptions) -> FakeMicrosoft:
    return FakeMicrosoft()


def _levelio(options: SandboxOptions) -> FakeLevel:
    return FakeLevel()


def _huntress(options: SandboxOptions) -> FakeHuntress:
    return FakeHuntress()


def _tacticalrmm(options: SandboxOptions) -> FakeTacticalRmm:
    return FakeTacticalRmm(script_result_delay=options.script_result_delay)


FAKES: tuple[RegisteredFake, ...] = (
    RegisteredFake("ninjaone", "NinjaOne", _ninjaone),
    RegisteredFake(
        "microsoft",
        "Microsoft identity platform, Graph, Bot Connector",
        _microsoft,
        also_serves=("teams",),
    ),
    RegisteredFake("tacticalrmm", "Tactical RMM", _tacticalrmm),
    RegisteredFake("levelio", "Level", _levelio),
    RegisteredFake("huntress", "Huntress", _huntress),
)
"""Every fake the sandbox serves, in the order it serves them."""
