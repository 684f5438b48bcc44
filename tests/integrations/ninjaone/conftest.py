"""NinjaOne fixtures: a tenant connected to an in-process FakeNinjaOne, run through the pipeline.

Built on the shared vendor harness (``tests/integrations/harness.py``); what
is here is NinjaOne's own: its fake, its OAuth client and stored tokens.

Time is one manual clock shared by the fake (token expiry, script results)
and the pipeline (ledger, ``ctx.now()``), so expiry and waits are exact. The
fake's epoch timestamps start at the pipeline's wall-clock start, so a device
seen "30 s ago" by the fake is 30 s before ``ctx.now()``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from catalog.registration import Catalog
from executor.settings import Settings
from integrations import ninjaone
from sandbox.core import ManualClock
from sandbox.ninjaone import FakeNinjaOne
from store import Store
from tests.executor.conftest import DateClock
from tests.integrations.harness import VendorHarness
from tests.integrations.harness import error_of as error_of
from tests.integrations.harness import output_of as output_of
from tests.integrations.harness import rejection_of as rejection_of

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


@dataclass(kw_only=True)
class NinjaHarness(VendorHarness):
    """The shared vendor harness plus NinjaOne's fake, its seed and its OAuth state."""

    fake: NinjaOneFake
    demo: dict[str, Any]

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


@pytest.fixture
def ninja(store: Store, settings: Settings) -> NinjaHarness:
    """A tenant connected with client id/secret and fresh tokens; the demo inventory seeded."""
    fake_clock = ManualClock()
    fake = NinjaOneFake(
        clock=fake_clock,
        epoch_origin=DateClock(fake_clock)().timestamp(),
        script_result_delay=10.0,
        access_token_ttl=3600.0,
    )
    demo = fake.seed_demo()
    fake.add_client(CLIENT_ID, CLIENT_SECRET)
    harness = NinjaHarness(
        store=store,
        settings=settings.model_copy(update={"lease_seconds": 30.0, "max_attempts": 3}),
        catalog=ninjaone_catalog(),
        provider="ninjaone",
        tenant=TENANT,
        transport=fake.transport(),
        fake_clock=fake_clock,
        fake=fake,
        demo=demo,
    )
    harness.connect(
        INSTANCE_URL,
        {"ninjaone_client_id": CLIENT_ID, "ninjaone_client_secret": CLIENT_SECRET},
    )
    harness.store_tokens()
    return harness
