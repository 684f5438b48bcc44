"""Huntress fixtures: a tenant connected to a seeded FakeHuntress served on loopback.

Built on the shared vendor harness (``tests/integrations/harness.py``), like
the Tactical RMM and Level tests: requests go over real HTTP (the pipeline
has no in-process transport and runs in sandbox mode, whose outbound policy
lets a loopback ``http://`` API root through), so the client's own network
transport, headers and URL handling are what the fake sees. The fake and the
pipeline share one manual clock, so the fake's sliding window moves with the
steps' time. The pipeline's own throttle has no limit here: the fake's
window is what refuses.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from catalog.registration import Catalog
from executor.pipeline import Outcome, Reschedule
from executor.settings import Settings
from integrations import huntress
from sandbox.core import ManualClock
from sandbox.huntress import FakeHuntress
from store import Store
from tests.executor.conftest import DateClock
from tests.integrations.harness import LoopbackHarness
from tests.integrations.harness import error_of as error_of
from tests.integrations.harness import output_of as output_of

TENANT = "acme"
# A key pair only this suite uses (a user key, and a read-only account key): it
# must never show up in errors, ledger rows, logs or the fake's request log.
CANARY_KEY = "hk_CANARY0huntress0key0000000000a1"
CANARY_SECRET = "hs_CANARY0huntress0secret0000000000000000000000b2"
CANARY_READ_ONLY_KEY = "hk_CANARY0huntress0readonly0000c3"
CANARY_READ_ONLY_SECRET = "hs_CANARY0huntress0readonly0secret00000000000d4"


def basic(key: str, secret: str) -> str:
    """The Authorization value a key pair makes (also a canary: base64 hides nothing)."""
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


CANARIES = (
    CANARY_KEY,
    CANARY_SECRET,
    CANARY_READ_ONLY_KEY,
    CANARY_READ_ONLY_SECRET,
    basic(CANARY_KEY, CANARY_SECRET).split()[1],
    basic(CANARY_READ_ONLY_KEY, CANARY_READ_ONLY_SECRET).split()[1],
)


def huntress_catalog() -> Catalog:
    """A catalog with only the Huntress module."""
    catalog = Catalog()
    huntress.register(catalog)
    return catalog


@dataclass(kw_only=True)
class HuntressHarness(LoopbackHarness):
    """The shared harness plus the running fake, its seed and its loopback URL."""

    fake: FakeHuntress
    seed: dict[str, Any]

    @property
    def account_id(self) -> int:
        account_id: int = self.seed["account_id"]
        return account_id

    def use_read_only_key(self) -> None:
        """Replace the tenant's key pair with the read-only account key."""
        self.set_secret("huntress_api_key", CANARY_READ_ONLY_KEY)
        self.set_secret("huntress_api_secret", CANARY_READ_ONLY_SECRET)

    def report(self, incident_id: int) -> dict[str, Any]:
        """The report as Huntress shows it (read in-process: no request, no rate window)."""
        return self.fake.incident_view(self.fake.incident_report(incident_id))

    def acted(self, method: str, path: str) -> int:
        """How many ``method path`` requests reached the route (not answered by a fault)."""
        return sum(1 for r in self.fake.calls(method, path) if not r.fault)

    def row(self, key: str) -> Any:
        found = self.pipeline().ledger.get(self.tenant, key)
        assert found is not None
        return found

    def run_until_final(self, action: str, args: dict[str, Any], key: str) -> Outcome:
        """Deliver the step again each time it is due, until it ends (at most 20 deliveries)."""
        outcome = self.run(action, args, key=key)
        for _ in range(20):
            if not isinstance(outcome, Reschedule):
                return outcome
            self.clock.advance(outcome.countdown)
            outcome = self.run(action, args, key=key)
        raise AssertionError(f"{key} still not final: {outcome}")


@pytest.fixture
def hunt(store: Store, settings: Settings) -> Iterator[HuntressHarness]:
    """A tenant connected with the canary user key to the seeded fake on loopback."""
    fake_clock = ManualClock()
    fake = FakeHuntress(clock=fake_clock, epoch_origin=DateClock(fake_clock)().timestamp())
    seed = fake.seed_demo()
    account = seed["account_id"]
    fake.add_key(account, key=CANARY_KEY, secret=CANARY_SECRET)
    fake.add_key(account, kind="account", key=CANARY_READ_ONLY_KEY, secret=CANARY_READ_ONLY_SECRET)
    with fake.serve() as server:
        harness = HuntressHarness.served(
            server.base_url,
            store=store,
            settings=settings,
            catalog=huntress_catalog(),
            provider="huntress",
            tenant=TENANT,
            fake_clock=fake_clock,
            fake=fake,
            seed=seed,
        )
        harness.connect(
            server.base_url + "/",
            {"huntress_api_key": CANARY_KEY, "huntress_api_secret": CANARY_SECRET},
        )
        yield harness
