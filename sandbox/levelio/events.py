"""Outbound webhooks (Level -> a subscriber): payload, signature, delivery.

From Level's "About Webhooks" (https://levelapi.readme.io/reference/about-webhooks)
and "Webhook Settings" (https://docs.level.io/en/articles/13909290-webhook-settings):

- payload ``{"event_type", "event_id", "occurred_at", "data"}``; ``event_id``
  is unique per delivery, ``occurred_at`` ISO 8601, ``data`` the resource
  (for ``alert_active`` / ``alert_resolved``: the alert as ``GET /v2/alerts``
  shows it);
- signed with HMAC-SHA256 of the raw body under the webhook's secret:
  ``X-Level-Signature: sha256=<hex>``; the secret is optional, and a webhook
  without one sends no signature header (vendors.md §2);
- a POST with a JSON body (``Content-Type: application/json``).

Neither page documents a timestamp header. ``X-Level-Timestamp`` (epoch
seconds, not covered by the signature) is sent only when asked for
(``timestamp_header=True``) *(choice)*; by default there is none, so a
receiver's stale-event check has to rest on ``occurred_at`` inside the
signed body. ``event_id`` is a UUID4 *(choice)*. The body is compact JSON
*(choice)*; receivers must verify the raw bytes.

Subscriptions (:meth:`Events.add_webhook_endpoint`) get every event the fake
emits (or the ``event_types`` they chose). Events are queued while the fake
holds its lock and POSTed once the handler that caused them has released it
(before that request's answer is sent), so a receiver may call back into the
fake without a deadlock. Every attempt is
kept in :attr:`Events.deliveries`; delivery errors are recorded, not raised,
and nothing is retried *(choice)*.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.levelio.api import iso
from sandbox.levelio.auth import Auth

__all__ = [
    "EVENT_TYPES",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Events",
    "WebhookDelivery",
    "WebhookEndpoint",
    "sign",
]

SIGNATURE_HEADER = "X-Level-Signature"
TIMESTAMP_HEADER = "X-Level-Timestamp"
EVENT_TYPES = frozenset(
    {
        "alert_active",
        "alert_resolved",
        "device_created",
        "device_updated",
        "device_deleted",
        "group_created",
        "group_updated",
        "group_deleted",
    }
)
"""Level's documented event types (the fake emits the two alert ones)."""


def sign(secret: str, body: bytes) -> str:
    """The ``X-Level-Signature`` value: ``sha256=<hex HMAC-SHA256(secret, body)>``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class WebhookEndpoint:
    """A webhook configured in Level's settings: where events go, and its secret."""

    id: str
    url: str
    secret: str | None = None
    event_types: frozenset[str] | None = None
    """None: every event type."""

    def wants(self, event_type: str) -> bool:
        return self.event_types is None or event_type in self.event_types


@dataclass(frozen=True)
class WebhookDelivery:
    """One POST of an event: what was sent and what came back."""

    url: str
    event_type: str
    event_id: str
    body: bytes
    headers: dict[str, str]
    status: int | None = None
    """The receiver's status; None when the POST failed (see ``error``) or is not sent yet."""
    error: str | None = None


class Events(Auth):
    """Building, signing and sending Level's outbound webhook events."""

    def __init__(
        self, *, webhook_transport: httpx.BaseTransport | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.webhook_transport = webhook_transport
        """How deliveries are sent (None: real HTTP); e.g. another app's MockTransport."""
        self._endpoints: dict[str, WebhookEndpoint] = {}
        self._outbox: list[WebhookDelivery] = []
        self._deliveries: list[WebhookDelivery] = []
        self._handling = threading.local()

    def add_webhook_endpoint(
        self,
        url: str,
        *,
        secret: str | None = None,
        event_types: frozenset[str] | set[str] | None = None,
    ) -> WebhookEndpoint:
        """Subscribe ``url`` to the events the fake emits (``event_types`` None: all)."""
        if event_types is not None and not set(event_types) <= EVENT_TYPES:
            raise ValueError(f"unknown event types: {sorted(set(event_types) - EVENT_TYPES)}")
        with self._lock:
            endpoint = WebhookEndpoint(
                self._new_id("sub"),
                url,
                secret,
                None if event_types is None else frozenset(event_types),
            )
            self._endpoints[endpoint.id] = endpoint
            return endpoint

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """Every delivery attempted, oldest first."""
        with self._lock:
            return list(self._deliveries)

    def build_event(
        self,
        event_type: str,
        data: Any,
        *,
        secret: str | None,
        timestamp_header: bool = False,
    ) -> tuple[bytes, dict[str, str]]:
        """The raw body and headers Level would POST for one event."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
        payload = {
            "event_type": event_type,
            "event_id": str(uuid.uuid4()),
            "occurred_at": iso(self.epoch()),
            "data": data,
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SIGNATURE_HEADER] = sign(secret, body)
        if timestamp_header:
            headers[TIMESTAMP_HEADER] = str(int(self.epoch()))
        return body, headers

    def post_event(self, url: str, body: bytes, headers: dict[str, str]) -> WebhookDelivery:
        """POST one built event to ``url`` now and record the attempt."""
        event = json.loads(body)
        try:
            with httpx.Client(transport=self.webhook_transport, timeout=10.0) as client:
                answer = client.post(url, content=body, headers=headers)
            delivery = WebhookDelivery(
                url, event["event_type"], event["event_id"], body, headers, answer.status_code
            )
        except httpx.HTTPError as exc:
            delivery = WebhookDelivery(
                url, event["event_type"], event["event_id"], body, headers, error=repr(exc)
            )
        with self._lock:
            self._deliveries.append(delivery)
        return delivery

    def _emit(self, event_type: str, data: Any) -> None:
        """Queue ``event_type`` for every endpoint that wants it (call under the lock)."""
        for endpoint in self._endpoints.values():
            if endpoint.wants(event_type):
                body, headers = self.build_event(event_type, data, secret=endpoint.secret)
                event_id = json.loads(body)["event_id"]
                self._outbox.append(
                    WebhookDelivery(endpoint.url, event_type, event_id, body, headers)
                )

    def flush_webhooks(self) -> list[WebhookDelivery]:
        """Send every queued event; call it without holding the fake's lock."""
        with self._lock:
            queued, self._outbox = self._outbox, []
        return [self.post_event(d.url, d.body, d.headers) for d in queued]

    def flush_unless_handling(self) -> None:
        """Send queued events now, unless this thread is inside :meth:`handle` (which will)."""
        if not getattr(self._handling, "active", False):
            self.flush_webhooks()

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer, then deliver the events the request caused."""
        self._handling.active = True
        try:
            return super().handle(request)
        finally:
            self._handling.active = False
            self.flush_webhooks()
