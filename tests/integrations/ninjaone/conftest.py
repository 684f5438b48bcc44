"""NinjaOne fixtures: a tenant connected to an in-process FakeNinjaOne, run through the pipeline.

Time is one manual clock shared by the fake (token expiry, script results)
and the pipeline (ledger, ``ctx.now()``), so expiry and waits are exact. The
fake's epoch timestamps start at the pipeline's wall-clock start, so a device
seen "30 s ago" by the fake is 30 s before ``ctx.now()``.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from catalog.registration import Catalog
from executor.pipeline import Finished, Outcome, Pipeline, Rejected
from executor.settings import Settings
from executor.throttle import MemoryThrottle, Throttle
from executor.wire import TaskRequest
from integrations import ninjaone
from sandbox.core import ManualClock
from sandbox.ninjaone import FakeNinjaOne
from store import Store
from store import connections as conn
from store.tenants import create_tenant
from tests.executor.conftest import DateClock

TENANT = "acme"
CLIENT_ID = "patchbay-ninja-test-client"
CLIENT_SECRET = "ninja-CANARY-client-secret-5b1e"
# A regional instance as an admin might paste it; in-process the host is never dialled.
INSTANCE_URL = "eu.ninjarmm.com/api/v2/"


def ninjaone_catalog() -> Catalog:
    """A catalog with only the NinjaOne module."""
    catalog = Catalog()
    ninjaone.register(catalog)
    return catalog


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until true; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


@dataclass
class NinjaHarness:
    """A connected tenant, the fake and its seed, and ways to run actions."""

    store: Store
    fake: NinjaOneFake
    clock: DateClock
    fake_clock: ManualClock
    settings: Settings
    demo: dict[str, Any]
    catalog: Catalog = field(default_factory=ninjaone_catalog)
    _keys: itertools.count[int] = field(default_factory=itertools.count)
    _pipeline: Pipeline | None = None

    @property
    def now(self) -> float:
        """Epoch seconds of the shared clock."""
        return self.clock().timestamp()

    def pipeline(self, transport: httpx.BaseTransport | None = None) -> Pipeline:
        """The harness's pipeline (one per test, as in a worker), or one on ``transport``."""
        if transport is None:
            if self._pipeline is None:
                self._pipeline = self.pipeline(self.fake.transport())
            return self._pipeline
        return Pipeline(
            catalog=self.catalog,
            store=self.store,
            settings=self.settings,
            throttle=Throttle(MemoryThrottle(clock=self.fake_clock), {}, max_wait=0.0),
            transports={"ninjaone": transport},
            clock=self.clock,
            rng=lambda: 0.5,
        )

    def task(self, action: str, input: dict[str, Any], key: str | None = None) -> TaskRequest:
        return TaskRequest(
            key=key or f"run-1:step-{next(self._keys)}:{action}",
            action_id=f"ninjaone.{action}",
            version=1,
            tenant_id=TENANT,
            input=input,
            run_id="run-1",
            step_path="root.steps[0]",
            provider="ninjaone",
        )

    def run(self, action: str, input: dict[str, Any], key: str | None = None) -> Outcome:
        return self.pipeline().execute(self.task(action, input, key))

    def ok(self, action: str, input: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        """Run and return the output of a step that must succeed."""
        return output_of(self.run(action, input, key))

    def error(self, action: str, input: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        """Run and return the error payload of a step that must fail."""
        return error_of(self.run(action, input, key))

    # -- the tenant's secrets ------------------------------------------------------

    def secret(self, name: str) -> str | None:
        value = self.store.secrets.get(TENANT, name)
        return None if value is None else value.get_secret_value()

    def set_secret(self, name: str, value: str) -> None:
        self.store.secrets.set(TENANT, name, SecretStr(value))

    def delete_secret(self, name: str) -> None:
        self.store.secrets.delete(TENANT, name)

    def credentials(self) -> dict[str, Any]:
        raw = self.secret("ninjaone_credentials")
        assert raw is not None
        data: dict[str, Any] = json.loads(raw)
        return data

    def store_tokens(self, *, ttl: float = 3600.0, user_id: int | None = 1) -> dict[str, Any]:
        """Stored credentials holding a fresh access token (and a refresh token if a user's)."""
        access = self.fake.issue_access_token(CLIENT_ID, user_id=user_id, ttl=ttl)
        refresh = self.fake.issue_refresh_token(CLIENT_ID) if user_id is not None else None
        creds = {"refresh_token": refresh, "access_token": access, "expires_at": self.now + ttl}
        self.set_secret("ninjaone_credentials", json.dumps(creds))
        return creds


class NinjaOneFake(FakeNinjaOne):
    """FakeNinjaOne plus the token-endpoint count every auth test asks for."""

    def token_calls(self) -> int:
        return self.count("POST", "/ws/oauth/token")


def output_of(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Finished), outcome
    assert outcome.row.status == "SUCCEEDED", outcome.row.error
    assert outcome.row.output is not None
    return outcome.row.output


def error_of(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Finished), outcome
    assert outcome.row.status == "FAILED", outcome.row.output
    assert outcome.row.error is not None
    return outcome.row.error


def rejection_of(outcome: Outcome) -> dict[str, Any]:
    """The payload of a step refused before anything was recorded or sent."""
    assert isinstance(outcome, Rejected), outcome
    return outcome.payload


def connect_tenant(store: Store, instance_url: str | None, secrets: dict[str, str]) -> None:
    """What ``patchbay connect ninjaone --tenant acme --url ... --secret ...`` stores."""
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
        conn.connect(session, TENANT, "ninjaone", instance_url=instance_url)
        for name, value in secrets.items():
            store.secrets.database.set_in(session, TENANT, name, SecretStr(value))


@pytest.fixture
def ninja(store: Store, settings: Settings) -> NinjaHarness:
    """A tenant connected with client id/secret and fresh tokens; the demo inventory seeded."""
    fake_clock = ManualClock()
    clock = DateClock(fake_clock)
    fake = NinjaOneFake(
        clock=fake_clock,
        epoch_origin=clock().timestamp(),
        script_result_delay=10.0,
        access_token_ttl=3600.0,
    )
    demo = fake.seed_demo()
    fake.add_client(CLIENT_ID, CLIENT_SECRET)
    connect_tenant(
        store,
        INSTANCE_URL,
        {"ninjaone_client_id": CLIENT_ID, "ninjaone_client_secret": CLIENT_SECRET},
    )
    harness = NinjaHarness(
        store=store,
        fake=fake,
        clock=clock,
        fake_clock=fake_clock,
        settings=settings.model_copy(update={"lease_seconds": 30.0, "max_attempts": 3}),
        demo=demo,
    )
    harness.store_tokens()
    return harness
