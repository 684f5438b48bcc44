"""Level's outbound webhooks in: ``alert_active`` / ``alert_resolved`` into ``rmm_alerts``.

Level posts ``{"event_type", "event_id", "occurred_at", "data"}`` and, when
the webhook has a secret, signs the raw body: ``X-Level-Signature:
sha256=<hex HMAC-SHA256(secret, body)>`` (vendors.md §2; Level's "About
Webhooks"). No timestamp header is documented, so freshness rests on
``occurred_at``, which the signature covers.

:func:`receive` believes nothing before it is checked, in this order: the
tenant has a Level connection; the tenant has a webhook secret
(``levelio_webhook_secret``; without one nothing can be verified, so
everything is refused); the signature (none: refused, wrong: refused); the
body (JSON with a string ``event_id``, a known ``event_type`` and an
ISO 8601 ``occurred_at``); freshness (more than 5 minutes old or ahead:
refused). Then, in one transaction, the event id is recorded
(``store.inbound``) and the alert row written: a replay of an id already
recorded is refused and writes nothing, so each event is applied exactly
once however often it arrives.

The mirror row (``rmm_integrations`` of the tenant's Level connection,
``external_alert_id`` = the alert id) is created or updated: ``alert_active``
sets ``status='active'``, ``alert_resolved`` ``status='resolved'`` with
``resolved_at``. Events can arrive out of order: an event older than the
last one applied to the row (by ``occurred_at``) is recorded but changes
nothing, so a late ``alert_active`` never reopens a resolved alert.

Events of other documented types (``device_*``, ``group_*``) are refused as
``unknown_event`` (nothing of patchbay's mirrors them yet).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from actionkit.webhooks import WebhookRejected, check_fresh, verify_hmac_sha256
from store import Store
from store.inbound import record_event, recorded_at
from store.models import Asset, RmmAlert, RmmIntegration

PROVIDER = "levelio"
SECRET_NAME = "levelio_webhook_secret"
SIGNATURE_HEADER = "x-level-signature"
EVENT_STATUS = {"alert_active": "active", "alert_resolved": "resolved"}
# The key in an alert row's source_data recording the last event applied to it.
LAST_EVENT_AT = "last_event_at"
MAX_BODY = 1_000_000


@dataclass(frozen=True)
class Receipt:
    """What :func:`receive` did with one event."""

    event_id: str
    event_type: str
    alert_id: str
    outcome: Literal["applied", "outdated"]
    """``applied``: the mirror row now says so; ``outdated``: recorded, but older than the row."""
    status: str


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _instant(value: Any, field: str) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise WebhookRejected("malformed", f"the event has no {field} timestamp; refused")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise WebhookRejected(
            "malformed", f"the event's {field} is not an ISO 8601 time; refused"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _optional_instant(value: Any) -> datetime | None:
    try:
        return _instant(value, "time")
    except WebhookRejected:
        return None


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


@dataclass(frozen=True)
class _Event:
    event_id: str
    event_type: str
    occurred_at: datetime
    alert: dict[str, Any]
    alert_id: str


def _parse(body: bytes) -> _Event:
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise WebhookRejected("malformed", "the webhook body is not JSON; refused") from None
    if not isinstance(payload, dict):
        raise WebhookRejected("malformed", "the webhook body is not a JSON object; refused")
    event_id = payload.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 255:
        raise WebhookRejected("malformed", "the event has no usable event_id; refused")
    event_type = payload.get("event_type")
    if event_type not in EVENT_STATUS:
        shown = event_type if isinstance(event_type, str) else type(event_type).__name__
        raise WebhookRejected(
            "unknown_event",
            f"event type {shown[:64]!r} is not one patchbay records "
            f"({', '.join(sorted(EVENT_STATUS))}); refused",
        )
    occurred_at = _instant(payload.get("occurred_at"), "occurred_at")
    alert = payload.get("data")
    alert_id = alert.get("id") if isinstance(alert, dict) else None
    if not isinstance(alert, dict) or not isinstance(alert_id, str | int) or alert_id == "":
        raise WebhookRejected("malformed", f"the {event_type} event carries no alert id; refused")
    return _Event(event_id.strip(), str(event_type), occurred_at, alert, str(alert_id))


def receive(
    store: Store,
    tenant_id: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: datetime | None = None,
) -> Receipt:
    """Verify one Level webhook delivery for ``tenant_id`` and apply it once (module doc)."""
    now = now or datetime.now(UTC)
    with store.sessions() as session:
        integration_id = session.scalar(
            select(RmmIntegration.integration_id).where(
                RmmIntegration.tenant == tenant_id, RmmIntegration.provider == PROVIDER
            )
        )
    if integration_id is None:
        raise WebhookRejected(
            "not_connected", f"tenant {tenant_id!r} has no Level connection; refused"
        )
    secret = store.secrets.get(tenant_id, SECRET_NAME)
    if secret is None or not secret.get_secret_value():
        raise WebhookRejected(
            "no_secret",
            f"tenant {tenant_id!r} has no Level webhook secret, so no event can be verified; "
            f"set the webhook's secret in Level and store it with patchbay connect {PROVIDER} "
            f"--tenant {tenant_id} --secret {SECRET_NAME}=@file",
        )
    if len(body) > MAX_BODY:
        raise WebhookRejected("malformed", f"the webhook body is over {MAX_BODY} bytes; refused")
    verify_hmac_sha256(secret.get_secret_value(), body, _header(headers, SIGNATURE_HEADER))
    event = _parse(body)
    check_fresh(event.occurred_at, now)
    with store.sessions.begin() as session:
        first = record_event(
            session,
            tenant=tenant_id,
            provider=PROVIDER,
            event_id=event.event_id,
            event_type=event.event_type,
            occurred_at=event.occurred_at,
            now=now,
        )
        if not first:
            raise _replayed(session, tenant_id, event.event_id)
        outcome = _apply(session, tenant_id, integration_id, event, now)
    return Receipt(
        event.event_id, event.event_type, event.alert_id, outcome, EVENT_STATUS[event.event_type]
    )


def _replayed(session: Session, tenant_id: str, event_id: str) -> WebhookRejected:
    at = recorded_at(session, tenant_id, PROVIDER, event_id)
    when = f" at {at.isoformat()}" if at is not None else ""
    return WebhookRejected(
        "replayed", f"event {event_id[:64]} was already recorded{when}; nothing written"
    )


def _apply(
    session: Session, tenant_id: str, integration_id: Any, event: _Event, now: datetime
) -> Literal["applied", "outdated"]:
    alert = event.alert
    row = session.scalars(
        select(RmmAlert).where(
            RmmAlert.tenant == tenant_id,
            RmmAlert.integration_id == integration_id,
            RmmAlert.external_alert_id == event.alert_id,
        )
    ).one_or_none()
    if row is None:
        row = RmmAlert(
            tenant=tenant_id,
            integration_id=integration_id,
            external_alert_id=event.alert_id,
            source_data={},
        )
        session.add(row)
    else:
        last = _optional_instant((row.source_data or {}).get(LAST_EVENT_AT))
        if last is not None and last > event.occurred_at:
            return "outdated"
    device_id = alert.get("device_id")
    row.external_device_id = str(device_id) if isinstance(device_id, str | int) else None
    if row.external_device_id is not None:
        row.asset_id = session.scalar(
            select(Asset.asset_id).where(
                Asset.tenant == tenant_id,
                Asset.rmm_provider == PROVIDER,
                Asset.rmm_device_id == row.external_device_id,
            )
        )
    row.status = EVENT_STATUS[event.event_type]
    row.severity = _text(alert.get("severity"), 32)
    row.message = _text(alert.get("description"), 10_000) or _text(alert.get("name"), 10_000)
    row.activity_type = _text(alert.get("name"), 64)
    row.source_type = "webhook"
    row.triggered_at = _optional_instant(alert.get("started_at")) or row.triggered_at
    if event.event_type == "alert_resolved":
        row.resolved_at = _optional_instant(alert.get("resolved_at")) or event.occurred_at
    else:
        row.resolved_at = None
    row.source_data = {**alert, LAST_EVENT_AT: event.occurred_at.isoformat()}
    row.updated_at = now
    return "applied"
