"""Tactical RMM fixtures: a tenant connected to a FakeTacticalRmm served on loopback.

Built on the shared vendor harness (``tests/integrations/harness.py``). Unlike
the NinjaOne tests, requests go over real HTTP: the pipeline has no
in-process transport and runs in sandbox mode, whose outbound policy lets a
loopback ``http://`` instance through, so the client's own network transport,
headers and URL handling are what the fake sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from catalog.registration import Catalog
from executor.settings import Settings
from integrations import tacticalrmm
from sandbox.core import ManualClock
from sandbox.tacticalrmm import FakeTacticalRmm
from store import Store
from tests.executor.conftest import DateClock
from tests.integrations.harness import LoopbackHarness
from tests.integrations.harness import error_of as error_of
from tests.integrations.harness import output_of as output_of

TENANT = "acme"
# A key only this test suite uses: it must never show up in errors, logs or the request log.
CANARY_KEY = "TACTICAL-CANARY-api-key-3f9a61c07d"


def tactical_catalog() -> Catalog:
    """A catalog with only the Tactical RMM module."""
    catalog = Catalog()
    tacticalrmm.register(catalog)
    return catalog


@dataclass(kw_only=True)
class TacticalHarness(LoopbackHarness):
    """The shared harness plus the running fake, its seed and its loopback URL."""

    fake: FakeTacticalRmm
    seed: dict[str, Any]

    def agent_id(self, index: int = 0) -> str:
        agent_id: str = self.seed["agent_ids"][index]
        return agent_id


@pytest.fixture
def tactical(store: Store, settings: Settings) -> Iterator[TacticalHarness]:
    """A tenant connected with the canary API key to the seeded fake on loopback."""
    fake_clock = ManualClock()
    fake = FakeTacticalRmm(clock=fake_clock, epoch_origin=DateClock(fake_clock)().timestamp())
    seed = fake.seed_demo()
    fake.add_api_key(seed["username"], CANARY_KEY)
    with fake.serve() as server:
        harness = TacticalHarness.served(
            server.base_url,
            store=store,
            settings=settings,
            catalog=tactical_catalog(),
            provider="tacticalrmm",
            tenant=TENANT,
            fake_clock=fake_clock,
            fake=fake,
            seed=seed,
        )
        harness.connect(server.base_url + "/", {"tacticalrmm_api_key": CANARY_KEY})
        yield harness
