"""Level fixtures: a tenant connected to a seeded FakeLevel served on loopback.

Built on the shared vendor harness (``tests/integrations/harness.py``), like
the Tactical RMM tests: requests go over real HTTP (the pipeline has no
in-process transport and runs in sandbox mode, whose outbound policy lets a
loopback ``http://`` API root through), so the client's own network
transport, headers and URL handling are what the fake sees. The fake and the
pipeline share one manual clock, and the fake's timestamps are on the
pipeline's dates, so runs progress and Retry-After dates are measured alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest

from catalog.registration import Catalog
from executor.context import InvocationContext
from executor.gate import InvocationGate
from executor.payload import Redactor
from executor.pipeline import Outcome, Reschedule
from executor.settings import Settings
from integrations import levelio
from sandbox.core import ManualClock
from sandbox.levelio import FakeLevel
from store import Store
from tests.executor.conftest import DateClock
from tests.integrations.harness import LoopbackHarness
from tests.integrations.harness import error_of as error_of
from tests.integrations.harness import output_of as output_of

TENANT = "acme"
# A key only this test suite uses: it must never show up in errors, logs or the request log.
CANARY_KEY = "LEVEL-CANARY-api-key-8d41c2f7e0"
CANARY_READ_ONLY_KEY = "LEVEL-CANARY-read-only-key-5b19aa03"


def level_catalog() -> Catalog:
    """A catalog with only the Level module."""
    catalog = Catalog()
    levelio.register(catalog)
    return catalog


class _OpenGate:
    """A gate that lets every request through (a handler run outside the pipeline)."""

    def before_request(
        self, method: str, url: str, *, mutating: bool, vendor: str | None = None
    ) -> None:
        return None


@dataclass(kw_only=True)
class LevelHarness(LoopbackHarness):
    """The shared harness plus the running fake, its seed and its loopback URL."""

    fake: FakeLevel
    seed: dict[str, Any]

    def device_id(self, index: int = 0) -> str:
        device_id: str = self.seed["device_ids"][index]
        return device_id

    def use_key(self, key: str) -> None:
        """Replace the tenant's stored API key."""
        self.set_secret("levelio_api_key", key)

    def alert_resolved(self, alert_id: str) -> bool:
        """Whether Level has the alert resolved (read through the fake's own API)."""
        answer = httpx.get(
            f"{self.url}/v2/alerts/{alert_id}", headers={"Authorization": self.seed["api_key"]}
        )
        resolved: bool = answer.json()["is_resolved"]
        return resolved

    def direct(self, action: str, input: dict[str, Any]) -> Any:
        """What the handler of ``levelio.<action>`` returns, before the executor stores it.

        The ledger redacts output keys that look like credentials (``*token*``,
        ``*authorization*``); this shows what the action itself answered.
        """
        spec = self.catalog.actions.find(f"levelio.{action}", 1)
        assert spec is not None
        ctx = InvocationContext(
            tenant_id=self.tenant,
            action_id=spec.id,
            action_version=1,
            idempotency_key="direct",
            run_id=None,
            step_path=None,
            attempt=1,
            sessions=self.store.sessions,
            secrets=self.store.secrets,
            redactor=Redactor(),
            gate=cast(InvocationGate, _OpenGate()),
            transports={},
            clock=self.clock,
            sandbox=True,
        )
        return spec.handler(spec.input_model.model_validate(input), ctx)

    def row(self, key: str) -> Any:
        found = self.pipeline().ledger.get(self.tenant, key)
        assert found is not None
        return found

    def run_until_final(
        self, action: str, args: dict[str, Any], key: str, after: Outcome | None = None
    ) -> Outcome:
        """Deliver the step again each time it is due, until it ends (at most 200 deliveries).

        ``after``: the step's last outcome, when it was delivered already.
        """
        outcome = self.run(action, args, key=key) if after is None else after
        for _ in range(200):
            if not isinstance(outcome, Reschedule):
                return outcome
            self.clock.advance(outcome.countdown)
            outcome = self.run(action, args, key=key)
        raise AssertionError(f"{key} still not final: {outcome}")


@pytest.fixture
def level(store: Store, settings: Settings) -> Iterator[LevelHarness]:
    """A tenant connected with the canary key (read/write) to the seeded fake on loopback."""
    fake_clock = ManualClock()
    fake = FakeLevel(clock=fake_clock, epoch_origin=DateClock(fake_clock)().timestamp())
    seed = fake.seed_demo()
    fake.add_api_key(CANARY_KEY, write=True)
    fake.add_api_key(CANARY_READ_ONLY_KEY, write=False)
    with fake.serve() as server:
        harness = LevelHarness.served(
            server.base_url,
            store=store,
            settings=settings,
            catalog=level_catalog(),
            provider="levelio",
            tenant=TENANT,
            fake_clock=fake_clock,
            fake=fake,
            seed=seed,
        )
        harness.connect(server.base_url + "/", {"levelio_api_key": CANARY_KEY})
        yield harness
