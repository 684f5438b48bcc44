"""What the inbound endpoints' tests share: an app of just those routers, tenants, activities.

The app is ``FastAPI()`` with :func:`api.inbound.inbound_routers` on an
:class:`ApiContext` around a real executor runtime (``memory://`` broker, the
test's database), served by uvicorn on loopback (``tests.api.support``) and
called over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from api.context import ApiContext
from api.inbound import inbound_routers
from api.inbound.botframework import ConnectorTokenVerifier
from executor.api import Executor
from executor.app import ExecutorRuntime
from executor.settings import Settings
from store import Store
from store import connections as conn
from store.models import TeamsConversationReference
from store.tenants import create_tenant
from tests.api.support import served

MAX_BODY = 8 * 1024
TENANT = "acme"
BOT_APP_ID = "c4d5e6f7-8a9b-4c0d-9e1f-2a3b4c5d6e7f"
OTHER_BOT_APP_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
AAD_TENANT = "7f3b1c2e-0d4a-4e8b-9c1f-5a6b7c8d9e0f"
ADELE = "2B7C9D1E-4F5A-4B6C-8D7E-9F0A1B2C3D4E"
PERSONAL = "a:1pBdEm0AdeLeVance_q7Xw2Rk9Lm4Tz8Hc5Jn3Vb6Yd1Fg0Ks2Pq7Wm9Er4Ty6Ui8Oa3Sd5Fh7Jk1Lz0Xc2"
TEAM = "19:b8e3a1d2c4f64e0a9d7c5b3a1f2e4d6c@thread.tacv2"
CHANNEL = "19:4d2f6b8a0c1e43f5a7b9d1c3e5f7a9b2@thread.tacv2"
SERVICE_URL = "https://smba.trafficmanager.net/amer/"


@contextmanager
def inbound_client(
    settings: Settings, *, verifier: ConnectorTokenVerifier | None = None
) -> Iterator[httpx.Client]:
    """A client of an app holding only the inbound routers, on ``settings``, served."""
    runtime = ExecutorRuntime(settings)
    ctx = ApiContext(executor=Executor(runtime), max_body_bytes=MAX_BODY)
    app = FastAPI()
    for router in inbound_routers(ctx, verifier=verifier):
        app.include_router(router)
    try:
        with served(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
            yield client
    finally:
        runtime.close()


def connect_teams(store: Store, tenant: str = TENANT, *, bot_app_id: str = BOT_APP_ID) -> None:
    """Create ``tenant`` and connect its Teams integration with the bot ``bot_app_id``."""
    with store.sessions.begin() as session:
        create_tenant(session, tenant)
        conn.connect(
            session,
            tenant,
            "teams",
            kind="teams",
            instance_url="https://psa.example.com",
            settings={"bot_app_id": bot_app_id},
        )


def references(store: Store) -> list[TeamsConversationReference]:
    """Every conversation reference recorded, of any tenant."""
    with store.sessions() as session:
        return list(session.scalars(select(TeamsConversationReference)).all())


def personal_activity(
    service_url: str = SERVICE_URL, *, activity_type: str = "message"
) -> dict[str, Any]:
    """Adele's message to the bot in their personal chat, as Teams sends it."""
    return {
        "type": activity_type,
        "id": "1:1f2b3c4d5e6f",
        "timestamp": "2027-01-15T08:00:00.000Z",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {
            "id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQtHieVkKilBZ9XHoq9j7Zaqt7CZ",
            "name": "Adele Vance",
            "aadObjectId": ADELE,
        },
        "conversation": {"conversationType": "personal", "tenantId": AAD_TENANT, "id": PERSONAL},
        "recipient": {"id": f"28:{BOT_APP_ID}", "name": "patchbay"},
        "text": "hello",
        "textFormat": "plain",
        "locale": "en-US",
        "entities": [{"type": "clientInfo", "locale": "en-US", "platform": "Web"}],
        "channelData": {"tenant": {"id": AAD_TENANT}},
    }


def channel_activity(service_url: str = SERVICE_URL) -> dict[str, Any]:
    """Adele mentioning the bot in the team's "Service Desk" channel, as Teams sends it."""
    activity = personal_activity(service_url)
    activity["conversation"] = {
        "isGroup": True,
        "conversationType": "channel",
        "tenantId": AAD_TENANT,
        "id": f"{CHANNEL};messageid=1736928000000",
    }
    activity["text"] = "<at>patchbay</at> hello"
    activity["channelData"] = {
        "teamsChannelId": CHANNEL,
        "teamsTeamId": TEAM,
        "channel": {"id": CHANNEL},
        "team": {"id": TEAM},
        "tenant": {"id": AAD_TENANT},
    }
    return activity
