"""Level's webhooks in (``integrations.levelio.webhooks.receive``), with deliveries FakeLevel signs.

Each refusal writes nothing; a valid ``alert_active`` / ``alert_resolved``
lands in the ``rmm_alerts`` mirror exactly once however often it arrives,
and never reopens an alert a later event resolved. The webhook secret never
appears in a refusal.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from actionkit.webhooks import WebhookRejected
from integrations.levelio.webhooks import receive
from sandbox.levelio import FakeLevel
from sandbox.levelio.events import sign
from store import Store
from store import connections as conn
from store.models import InboundEvent, RmmAlert
from store.tenants import create_tenant

TENANT = "acme"
SECRET = "whsec-CANARY-level-4b1e9c"


class SeededLevel(FakeLevel):
    seed: dict[str, Any]


@pytest.fixture
def level() -> SeededLevel:
    fake = SeededLevel()
    fake.seed = fake.seed_demo()
    return fake


@pytest.fixture
def tenant(store: Store) -> str:
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
        conn.connect(session, TENANT, "levelio", instance_url="https://api.level.io")
    store.secrets.set(TENANT, "levelio_webhook_secret", SECRET)
    return TENANT


def _first_active(level: SeededLevel) -> str:
    alert_id: str = level.seed["alert_ids"][0]
    return alert_id


def mirror(store: Store) -> list[RmmAlert]:
    with store.sessions() as session:
        return list(session.scalars(select(RmmAlert).order_by(RmmAlert.external_alert_id)))


def events(store: Store) -> int:
    with store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(InboundEvent)) or 0)


def rejected(store: Store, tenant: str, body: bytes, headers: dict[str, str], **kw: Any) -> str:
    with pytest.raises(WebhookRejected) as caught:
        receive(store, tenant, body, headers, **kw)
    assert SECRET not in caught.value.message
    assert mirror(store) == []
    return caught.value.reason


def test_a_signed_alert_active_lands_in_the_mirror_once(
    store: Store, tenant: str, level: SeededLevel
) -> None:
    alert_id = _first_active(level)
    body, headers = level.webhook("alert_active", alert_id, secret=SECRET)
    receipt = receive(store, tenant, body, headers)
    assert (receipt.event_type, receipt.alert_id, receipt.outcome) == (
        "alert_active",
        alert_id,
        "applied",
    )
    [row] = mirror(store)
    sent = json.loads(body)["data"]
    assert (row.external_alert_id, row.status, row.severity) == (
        alert_id,
        "active",
        sent["severity"],
    )
    assert row.external_device_id == sent["device_id"]
    assert row.source_type == "webhook"
    # The same delivery again is a replay: refused, and nothing changes.
    with pytest.raises(WebhookRejected) as again:
        receive(store, tenant, body, headers)
    assert again.value.reason == "replayed"
    assert events(store) == 1
    assert len(mirror(store)) == 1


def test_alert_resolved_resolves_and_a_late_alert_active_does_not_reopen(
    store: Store, tenant: str, level: SeededLevel
) -> None:
    alert_id = _first_active(level)
    opened = level.webhook("alert_active", alert_id, secret=SECRET)
    resolved_body, resolved_headers = level.webhook("alert_resolved", alert_id, secret=SECRET)
    later = datetime.now(UTC) + timedelta(seconds=60)
    # Delivered out of order: the resolution first, then the older activation.
    assert receive(store, tenant, resolved_body, resolved_headers, now=later).outcome == "applied"
    late = _older(opened[0], seconds=30)
    outcome = receive(
        store, tenant, late, {"X-Level-Signature": sign(SECRET, late)}, now=later
    ).outcome
    assert outcome == "outdated"
    [row] = mirror(store)
    assert row.status == "resolved"
    assert row.resolved_at is not None
    assert events(store) == 2


def _older(body: bytes, *, seconds: int) -> bytes:
    payload = json.loads(body)
    at = datetime.fromisoformat(payload["occurred_at"].replace("Z", "+00:00"))
    payload["occurred_at"] = (at - timedelta(seconds=seconds)).isoformat()
    return json.dumps(payload).encode()


def test_unsigned_and_badly_signed_deliveries_are_refused(
    store: Store, tenant: str, level: SeededLevel
) -> None:
    alert_id = _first_active(level)
    body, _ = level.webhook("alert_active", alert_id, secret=None)
    assert rejected(store, tenant, body, {}) == "unsigned"
    _, other = level.webhook("alert_active", alert_id, secret="some-other-secret")
    assert rejected(store, tenant, body, other) == "bad_signature"
    signed, headers = level.webhook("alert_active", alert_id, secret=SECRET)
    tampered = signed.replace(b"alert_active", b"alert_resolved")
    assert rejected(store, tenant, tampered, headers) == "bad_signature"
    assert rejected(store, tenant, signed, {"X-Level-Signature": "md5=abc"}) == "bad_signature"
    assert events(store) == 0


def test_stale_and_future_events_are_refused(store: Store, tenant: str, level: SeededLevel) -> None:
    body, headers = level.webhook("alert_active", _first_active(level), secret=SECRET)
    now = datetime.now(UTC)
    assert rejected(store, tenant, body, headers, now=now + timedelta(minutes=6)) == "stale"
    assert rejected(store, tenant, body, headers, now=now - timedelta(minutes=6)) == "stale"
    assert events(store) == 0


def test_a_tenant_without_a_secret_or_a_connection_refuses_everything(
    store: Store, tenant: str, level: SeededLevel
) -> None:
    body, headers = level.webhook("alert_active", _first_active(level), secret=SECRET)
    with store.sessions.begin() as session:
        create_tenant(session, "other")
    assert rejected(store, "other", body, headers) == "not_connected"
    store.secrets.delete(TENANT, "levelio_webhook_secret")
    assert rejected(store, tenant, body, headers) == "no_secret"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "malformed"),
        (b"[]", "malformed"),
        (json.dumps({"event_type": "device_created", "event_id": "e1"}).encode(), "unknown_event"),
        (
            json.dumps(
                {"event_type": "alert_active", "event_id": "e1", "occurred_at": "yesterday"}
            ).encode(),
            "malformed",
        ),
        (
            json.dumps(
                {
                    "event_type": "alert_active",
                    "event_id": "e1",
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "data": {"name": "no id"},
                }
            ).encode(),
            "malformed",
        ),
    ],
)
def test_malformed_signed_bodies_are_refused(
    store: Store, tenant: str, payload: bytes, reason: str
) -> None:
    assert rejected(store, tenant, payload, {"X-Level-Signature": sign(SECRET, payload)}) == reason


def test_two_deliveries_racing_apply_the_event_once(
    store: Store, tenant: str, level: SeededLevel
) -> None:
    body, headers = level.webhook("alert_active", _first_active(level), secret=SECRET)
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def deliver() -> None:
        start.wait()
        try:
            outcomes.append(receive(store, tenant, body, headers).outcome)
        except WebhookRejected as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["applied", "replayed", "replayed", "replayed"]
    assert events(store) == 1
    assert len(mirror(store)) == 1
