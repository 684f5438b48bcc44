"""Teams fixtures: a tenant connected to a seeded FakeMicrosoft served on loopback.

Built on the shared vendor harness (``tests/integrations/harness.py``): the
pipeline runs in sandbox mode with no in-process transport, so the clients'
own network transport, headers and URL handling are what the fake sees. One
served fake stands in for the identity platform (``login_url``), Graph
(``graph_url``) and the Bot Connector (the service URL recorded with each
conversation reference, ``<base>/amer/``). Fake and pipeline share one
manual clock.

The tenant ``acme`` uses an Entra app and a bot of its own, registered in the
fake with canary secrets (never the demo's): the profile app ``CLIENT_ID``
(installed for Adele under the demo Teams app, not for Alex) and the bot
``BOT_APP_ID`` (installed in the demo team "Contoso IT", not in "Contoso
Sales", with a personal chat with Adele). Neither secret, nor any access
token the fake issued, may show up in an error, a ledger row, a log line or
an output.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import delete

from catalog.registration import Catalog
from executor.pipeline import Outcome, Reschedule
from executor.settings import Settings
from integrations import teams
from sandbox.core import ManualClock, RecordedRequest
from sandbox.microsoft import (
    DEMO_ACTIVITY_TYPES,
    DEMO_BOT_APP_ID,
    DEMO_CHANNEL_ID,
    DEMO_TEAM_ID,
    DEMO_TEAMS_APP_ID,
    DEMO_TENANT_ID,
    FakeMicrosoft,
)
from store import Store
from store import connections as conn
from store import teams as stored
from store.models import TeamsConversationReference, TeamsIntegration
from store.tenants import create_tenant
from store.users import create_user
from tests.executor.conftest import DateClock
from tests.integrations.harness import LoopbackHarness
from tests.integrations.harness import error_of as error_of
from tests.integrations.harness import output_of as output_of
from tests.integrations.harness import rejection_of as rejection_of

TENANT = "acme"
OTHER_TENANT = "globex"
PSA_URL = "https://psa.example.com"
# The tenant's own profile app and bot: only this suite knows their secrets.
CLIENT_ID = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
CANARY_SECRET = "teams-CANARY-client-secret-6f1a9c2e7b"
BOT_APP_ID = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
CANARY_BOT_SECRET = "teams-CANARY-bot-password-3d8e0b5a41"
CANARIES = (CANARY_SECRET, CANARY_BOT_SECRET)
NOBODY = uuid.UUID(int=0)  # until the fixture creates the users

GRAPH_TOKEN_PATH = f"/{DEMO_TENANT_ID}/oauth2/v2.0/token"
BOT_TOKEN_PATH = "/botframework.com/oauth2/v2.0/token"
NOTIFY_PATH = "/v1.0/users/*/teamwork/sendActivityNotification"
ACTIVITIES_PATH = "*/v3/conversations/*/activities"
CONVERSATIONS_PATH = "*/v3/conversations"


def teams_catalog() -> Catalog:
    """A catalog with only the Teams module."""
    catalog = Catalog()
    teams.register(catalog)
    return catalog


def teams_settings(url: str, **overrides: str) -> dict[str, str]:
    """The connection settings of ``patchbay connect teams`` against the fake at ``url``."""
    return {
        "client_id": CLIENT_ID,
        "aad_tenant": DEMO_TENANT_ID,
        "app_id": DEMO_TEAMS_APP_ID,
        "bot_app_id": BOT_APP_ID,
        "login_url": url,
        "graph_url": url,
        **overrides,
    }


@dataclass(kw_only=True)
class TeamsHarness(LoopbackHarness):
    """The shared harness plus the served fake, its seed, and the tenant's people.

    ``tech``: a technician linked to Adele (the Teams app installed for her,
    a personal chat with the bot); ``alex``: one linked to Alex (no Teams
    app, no chat); ``unlinked``: one with no Microsoft account.
    """

    fake: FakeMicrosoft
    seed: dict[str, Any]
    tech: uuid.UUID = NOBODY
    alex: uuid.UUID = NOBODY
    unlinked: uuid.UUID = NOBODY
    personal_conversation: str = ""

    # -- the fake -----------------------------------------------------------------

    @property
    def adele_id(self) -> str:
        found: str = self.seed["users"][0]["id"]
        return found

    @property
    def alex_id(self) -> str:
        found: str = self.seed["users"][1]["id"]
        return found

    @property
    def service_url(self) -> str:
        """The fake connector's service URL (``<base>/amer/``)."""
        return self.fake.service_url(self.url)

    def token_requests(self, path: str) -> list[RecordedRequest]:
        """The token requests sent to ``path`` (Graph's or the Bot Framework's authority)."""
        return self.fake.calls("POST", path)

    def vendor_calls(self) -> int:
        """Every request the fake received (token endpoint, Graph, connector)."""
        return self.fake.count()

    # -- the tenant's set-up --------------------------------------------------------

    def connect_teams(
        self, settings: dict[str, str], *, tenant: str | None = None, url: str = PSA_URL
    ) -> None:
        """What ``patchbay connect teams --tenant T --url ... --setting ...`` stores."""
        with self.store.sessions.begin() as session:
            conn.connect(
                session,
                tenant or self.tenant,
                "teams",
                instance_url=url,
                kind="teams",
                settings=settings,
            )

    def update_integration(self, **values: Any) -> None:
        """Set columns of the tenant's ``teams_integrations`` row directly."""
        with self.store.sessions.begin() as session:
            row = session.get(TeamsIntegration, self.tenant)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)

    def new_user(self, username: str, *, tenant: str | None = None) -> uuid.UUID:
        with self.store.sessions.begin() as session:
            return create_user(session, tenant or self.tenant, username, technician=True).user_id

    def link(
        self, user_id: uuid.UUID, microsoft_user_id: str, *, tenant: str | None = None
    ) -> None:
        with self.store.sessions.begin() as session:
            stored.link_user(session, tenant or self.tenant, user_id, microsoft_user_id)

    def record(
        self,
        conversation_id: str,
        conversation_type: stored.ConversationType,
        *,
        service_url: str | None = None,
        microsoft_user_id: str | None = None,
        team_id: str | None = None,
        channel_id: str | None = None,
        tenant: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """What ``patchbay teams reference add`` records (default: the fake's URL, now)."""
        with self.store.sessions.begin() as session:
            stored.record_reference(
                session,
                tenant or self.tenant,
                microsoft_user_id=microsoft_user_id or self.adele_id,
                conversation_id=conversation_id,
                conversation_type=conversation_type,
                service_url=service_url or self.service_url,
                tenant_id_aad=DEMO_TENANT_ID,
                team_id=team_id,
                channel_id=channel_id,
                at=at or self.clock(),
            )

    def forget_references(self, *, tenant: str | None = None) -> None:
        with self.store.sessions.begin() as session:
            session.execute(
                delete(TeamsConversationReference).where(
                    TeamsConversationReference.tenant == (tenant or self.tenant)
                )
            )

    def as_tenant(self, tenant: str) -> TeamsHarness:
        """The same store, fake and clock, running steps for ``tenant`` (its own pipeline)."""
        return dataclasses.replace(self, tenant=tenant, _pipeline=None, _keys=itertools.count())

    # -- steps ----------------------------------------------------------------------

    def notify(self, user: uuid.UUID | None = None, **extra: Any) -> dict[str, Any]:
        """The input of ``teams.notify_user`` (to ``tech`` unless told)."""
        return {"user_id": str(user or self.tech), "title": "Ticket T-1042 escalated", **extra}

    def dm(self, user: uuid.UUID | None = None, **extra: Any) -> dict[str, Any]:
        """The input of ``teams.send_dm`` (to ``tech`` unless told)."""
        return {"user_id": str(user or self.tech), "message": "Your ticket moved.", **extra}

    def row_status(self, key: str) -> tuple[str, int]:
        """The ledger row's status and attempt count for ``key``."""
        found = self.pipeline().ledger.get(self.tenant, key)
        assert found is not None
        return found.status, found.attempt

    def run_until_final(self, action: str, args: dict[str, Any], key: str) -> Outcome:
        """Deliver the step again each time it is due, until it ends (at most 10 deliveries)."""
        outcome = self.run(action, args, key=key)
        for _ in range(10):
            if not isinstance(outcome, Reschedule):
                return outcome
            self.clock.advance(outcome.countdown)
            outcome = self.run(action, args, key=key)
        raise AssertionError(f"{key} still not final: {outcome}")


@pytest.fixture
def fake_microsoft() -> tuple[FakeMicrosoft, ManualClock, dict[str, Any]]:
    """The seeded fake with the tenant's own app and bot registered (canary secrets)."""
    fake_clock = ManualClock()
    fake = FakeMicrosoft(clock=fake_clock, epoch_origin=DateClock(fake_clock)().timestamp())
    seed = fake.seed_demo()
    adele = seed["users"][0]["id"]
    fake.add_app(DEMO_TENANT_ID, CLIENT_ID, CANARY_SECRET, graph_roles=())
    fake.install_teams_app(
        adele, CLIENT_ID, teams_app_id=DEMO_TEAMS_APP_ID, activity_types=DEMO_ACTIVITY_TYPES
    )
    fake.add_bot(BOT_APP_ID, CANARY_BOT_SECRET)
    fake.install_bot_in_team(DEMO_TEAM_ID, BOT_APP_ID)
    assert BOT_APP_ID != DEMO_BOT_APP_ID
    return fake, fake_clock, seed


@pytest.fixture
def harness(
    store: Store,
    settings: Settings,
    fake_microsoft: tuple[FakeMicrosoft, ManualClock, dict[str, Any]],
) -> Iterator[TeamsHarness]:
    """``acme`` connected to Teams on the served fake, its people linked, two references."""
    fake, fake_clock, seed = fake_microsoft
    with fake.serve() as server:
        h = TeamsHarness.served(
            server.base_url,
            store=store,
            settings=settings,
            catalog=teams_catalog(),
            provider="teams",
            tenant=TENANT,
            fake_clock=fake_clock,
            fake=fake,
            seed=seed,
        )
        with store.sessions.begin() as session:
            create_tenant(session, TENANT)
            create_tenant(session, OTHER_TENANT)
            for name, value in (
                (stored.CLIENT_SECRET_NAME, CANARY_SECRET),
                (stored.BOT_PASSWORD_NAME, CANARY_BOT_SECRET),
            ):
                store.secrets.database.set_in(session, TENANT, name, SecretStr(value))
        h.connect_teams(teams_settings(server.base_url))
        h.tech = h.new_user("tech1")
        h.alex = h.new_user("alex")
        h.unlinked = h.new_user("nobody")
        h.link(h.tech, h.adele_id)
        h.link(h.alex, h.alex_id)
        h.personal_conversation = fake.add_personal_conversation(
            h.adele_id, BOT_APP_ID, tenant_id=DEMO_TENANT_ID
        )
        earlier = h.clock() - timedelta(hours=1)
        h.record(
            DEMO_CHANNEL_ID, "channel", team_id=DEMO_TEAM_ID, channel_id=DEMO_CHANNEL_ID, at=earlier
        )
        h.record(h.personal_conversation, "personal", at=h.clock())
        yield h


# Most of these tests are about the wire and the vendor, not the database: they
# run on SQLite only (the suite stays fast). Those that read what the store
# selects (references, links, the set-up, the token cache) run on both, with
# ``@both_backends``.
BACKENDS = ("sqlite", "postgres")
both_backends = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite unless a test asks for both (``@both_backends``)."""
    return str(request.param)
