"""Level's webhook receiver over HTTP: a signed delivery applies once, anything else is refused.

The deliveries are FakeLevel's (``sandbox.levelio``), signed with the
tenant's webhook secret; the endpoint hands the raw body to the same
receiver ``patchbay levelio ingest`` uses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.errors import ErrorPayload
from executor.settings import Settings
from sandbox.levelio import FakeLevel
from store import Store
from store import connections as conn
from store.models import RmmAlert
from store.tenants import create_tenant
from tests.api.conftest import ApiUnderTest, assert_error
from tests.api.inbound_support import MAX_BODY, TENANT, inbound_client

SECRET = "whsec-CANARY-api-5c1e"


@dataclass
class Level:
    fake: FakeLevel
    alert_id: str
    client: httpx.Client
    store: Store

    def post(self, body: bytes, headers: dict[str, str], *, tenant: str = TENANT) -> httpx.Response:
        return self.client.post(
            f"/inbound/levelio/{tenant}/webhooks", content=body, headers=headers
        )

    def alerts(self) -> list[tuple[str, str]]:
        with self.store.sessions() as session:
            rows = session.scalars(select(RmmAlert)).all()
            return [(r.external_alert_id, r.status) for r in rows]


@pytest.fixture
def level(settings: Settings, store: Store) -> Iterator[Level]:
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
        conn.connect(session, TENANT, "levelio", instance_url="https://api.level.io")
    store.secrets.set(TENANT, "levelio_webhook_secret", SECRET)
    fake = FakeLevel()
    alert_id: str = fake.seed_demo()["alert_ids"][0]
    with inbound_client(settings) as client:
        yield Level(fake, alert_id, client, store)


def refused(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    ErrorPayload.model_validate(body)
    assert body["details"]["reason"] == reason, body
    assert SECRET not in response.text
    return body


def test_a_signed_delivery_is_applied_once_and_its_replay_is_409(level: Level) -> None:
    body, headers = level.fake.webhook("alert_active", level.alert_id, secret=SECRET)
    first = level.post(body, headers)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert (answer["accepted"], answer["outcome"], answer["status"]) == (True, "applied", "active")
    assert answer["alert_id"] == level.alert_id
    assert level.alerts() == [(level.alert_id, "active")]

    again = refused(level.post(body, headers), 409, "replayed")
    assert again["code"] == "CONFLICT"
    assert level.alerts() == [(level.alert_id, "active")]

    resolved, signed = level.fake.webhook("alert_resolved", level.alert_id, secret=SECRET)
    assert level.post(resolved, signed).json()["status"] == "resolved"
    assert level.alerts() == [(level.alert_id, "resolved")]


def test_a_bad_or_missing_signature_is_401(level: Level) -> None:
    body, headers = level.fake.webhook("alert_active", level.alert_id, secret=SECRET)
    forged = {**headers, "X-Level-Signature": "sha256=" + "0" * 64}
    assert refused(level.post(body, forged), 401, "bad_signature")["code"] == "UNAUTHENTICATED"
    other_secret, other_headers = level.fake.webhook(
        "alert_active", level.alert_id, secret="another-secret"
    )
    refused(level.post(other_secret, other_headers), 401, "bad_signature")
    unsigned, plain = level.fake.webhook("alert_active", level.alert_id, secret=None)
    refused(level.post(unsigned, plain), 401, "unsigned")
    assert level.alerts() == []


def test_a_tampered_body_is_401(level: Level) -> None:
    body, headers = level.fake.webhook("alert_active", level.alert_id, secret=SECRET)
    tampered = json.dumps(json.loads(body) | {"event_id": "evt-other"}).encode()
    refused(level.post(tampered, headers), 401, "bad_signature")
    assert level.alerts() == []


def test_an_unknown_tenant_is_told_no_more_than_a_tenant_without_level(level: Level) -> None:
    body, headers = level.fake.webhook("alert_active", level.alert_id, secret=SECRET)
    with level.store.sessions.begin() as session:
        create_tenant(session, "globex")
    unknown = refused(level.post(body, headers, tenant="nobody"), 404, "not_connected")
    without = refused(level.post(body, headers, tenant="globex"), 404, "not_connected")
    assert unknown["code"] == without["code"] == "NOT_FOUND"
    assert unknown["message"].replace("nobody", "globex") == without["message"]
    assert level.alerts() == []


def test_a_tenant_without_a_webhook_secret_refuses_everything(level: Level) -> None:
    level.store.secrets.delete(TENANT, "levelio_webhook_secret")
    body, headers = level.fake.webhook("alert_active", level.alert_id, secret=SECRET)
    refused(level.post(body, headers), 401, "no_secret")
    assert level.alerts() == []


def test_a_signed_body_that_is_not_an_alert_event_is_400(level: Level) -> None:
    body, headers = level.fake.build_event("device_created", {"id": "dev-1"}, secret=SECRET)
    refused(level.post(body, headers), 400, "unknown_event")


@pytest.mark.parametrize("chunked", [False, True])
def test_an_oversize_body_is_413_before_anything_is_checked(level: Level, chunked: bool) -> None:
    body = b'{"event_type": "alert_active", "pad": "' + b"x" * MAX_BODY + b'"}'

    def pieces() -> Iterator[bytes]:
        for i in range(0, len(body), 1024):
            yield body[i : i + 1024]

    response = level.client.post(
        f"/inbound/levelio/{TENANT}/webhooks",
        content=pieces() if chunked else body,
        headers={"X-Level-Signature": "sha256=" + "0" * 64},
    )
    assert ("content-length" in response.request.headers) is not chunked
    assert refused(response, 413, "too_large")["code"] == "PAYLOAD_TOO_LARGE"
    assert level.alerts() == []


# -- in the full app -----------------------------------------------------------------------------


def test_the_full_app_serves_both_inbound_endpoints(api: ApiUnderTest) -> None:
    """``create_app`` mounts ``api.inbound``: its routes answer, documented, in the one shape."""
    client = api.raw_client()
    level = client.post(f"/inbound/levelio/{TENANT}/webhooks", content=b"{}")
    assert assert_error(level, 404, "NOT_FOUND")["details"] == {"reason": "not_connected"}
    teams = client.post(f"/inbound/teams/{TENANT}/messages", json={"type": "message"})
    assert assert_error(teams, 401, "UNAUTHENTICATED")["details"] == {"reason": "missing"}
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/inbound/levelio/{tenant}/webhooks", "/inbound/teams/{tenant}/messages"} <= set(paths)
