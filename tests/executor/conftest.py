"""Executor fixtures: a tenant connected to the in-process FakeWidgets vendor."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from catalog.registration import Catalog
from executor.ledger import ClaimRequest, input_hash
from executor.pipeline import Pipeline
from executor.settings import Settings
from executor.throttle import MemoryThrottle, RateLimit, Throttle
from sandbox.core import ManualClock
from sandbox.widgets import FakeWidgets
from store import Store
from store.models import RmmIntegration
from store.tenants import create_tenant
from store.types import utcnow
from tests.executor.widgets_integration import PROVIDER, SECRET, widgets_catalog

CANARY_KEY = "wk-CANARY-3f9c2b7e1d"
TENANT = "acme"
OTHER_TENANT = "globex"
OTHER_KEY = "wk-other-tenant-key-77"
WIDGETS_URL = "https://widgets.test"


class DateClock:
    """A settable UTC clock for the pipeline, moved together with the fake's clock."""

    def __init__(self, fake_clock: ManualClock) -> None:
        self._start = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
        self._origin = fake_clock()
        self._fake = fake_clock
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._fake() - self._origin)

    def advance(self, seconds: float) -> None:
        self._fake.advance(seconds)


def connect_widgets(store: Store, tenant: str, key: str, url: str = WIDGETS_URL) -> None:
    """A tenant with an active widgets connection and its API key secret."""
    with store.sessions.begin() as session:
        create_tenant(session, tenant)
        session.add(
            RmmIntegration(
                tenant=tenant,
                provider=PROVIDER,
                instance_url=url,
                is_active=True,
                connected_at=utcnow(),
            )
        )
    store.secrets.set(tenant, SECRET, SecretStr(key))


@dataclass
class Harness:
    store: Store
    fake: FakeWidgets
    clock: DateClock
    fake_clock: ManualClock
    catalog: Catalog
    settings: Settings

    def pipeline(self, *, rate_limit: str | None = None, **overrides: object) -> Pipeline:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        limits = {PROVIDER: RateLimit.parse(rate_limit)} if rate_limit else {}
        throttle = Throttle(
            MemoryThrottle(clock=self.fake_clock), limits, max_wait=0.0, sleep=self.fake_clock.sleep
        )
        return Pipeline(
            catalog=self.catalog,
            store=self.store,
            settings=settings,
            throttle=throttle,
            transports={PROVIDER: self.fake.transport()},
            clock=self.clock,
            rng=lambda: 0.5,
        )


@pytest.fixture
def harness(store: Store, settings: Settings) -> Harness:
    fake_clock = ManualClock()
    fake = FakeWidgets(
        {CANARY_KEY: "acct-acme", OTHER_KEY: "acct-globex"}, clock=fake_clock, job_duration=5.0
    )
    connect_widgets(store, TENANT, CANARY_KEY)
    return Harness(
        store=store,
        fake=fake,
        clock=DateClock(fake_clock),
        fake_clock=fake_clock,
        catalog=widgets_catalog(),
        settings=settings.model_copy(update={"lease_seconds": 30.0, "max_attempts": 3}),
    )


def claim_request(key: str, action_id: str = "widgets.widgets.create") -> ClaimRequest:
    """A side-effectful widgets step's claim, as a worker would make it."""
    data = {"name": "disk cleanup", "color": None}
    return ClaimRequest(
        tenant_id=TENANT,
        key=key,
        action_id=action_id,
        action_version=1,
        input_json=data,
        input_hash=input_hash(data),
        run_id="run-1",
        step_path="root.steps[0]",
        side_effectful=True,
        safe_to_repeat=False,
        max_attempts=3,
    )
