"""Alerts: listing, resolving, and the ``alert_active``/``alert_resolved`` events.

- ``GET /v2/alerts`` -> cursor list; ``status=active|resolved`` (anything
  else -> 400 ``status must be one of: active, resolved`` *(choice)*) and
  ``device_id`` filter; in creation order, like every list but runs *(choice)*.
- ``GET /v2/alerts/{id}`` -> the alert; unknown -> 404 ``Alert not found``
  *(choice: served so a client can read one alert back)*.
- ``POST /v2/alerts/{id}/resolve`` (no body) -> 200 with the resolved alert
  *(choice: the reference ignores the answer)*: ``is_resolved`` true,
  ``resolved_at`` now, and an ``alert_resolved`` event to every subscribed
  webhook. Unknown -> 404 ``Alert not found``. Already resolved -> 200 with
  the alert unchanged and no second event *(choice: idempotent)*. Needs a
  read/write key (403 otherwise, :mod:`sandbox.levelio.auth`).
- Fields (vendors.md §2): ``id, device_id, device_hostname, name,
  description, severity (information|warning|critical|emergency),
  is_resolved, started_at, resolved_at``.

:meth:`Alerts.webhook` builds (and :meth:`Alerts.send_webhook` POSTs) the
signed event for one alert without a subscription, for tests of a receiver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response, route
from sandbox.levelio.api import error
from sandbox.levelio.devices import Devices
from sandbox.levelio.events import WebhookDelivery

__all__ = ["ALERT_EVENTS", "SEVERITIES", "Alert", "Alerts"]

SEVERITIES = ("information", "warning", "critical", "emergency")
ALERT_EVENTS = ("alert_active", "alert_resolved")
_STATUSES = ("active", "resolved")


@dataclass
class Alert:
    """An alert raised on a device; ``resolved_at`` (fake clock) None while active."""

    id: str
    device_id: str
    name: str
    description: str
    severity: str
    started_at: float
    resolved_at: float | None = None

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


class Alerts(Devices):
    """Alerts and their resolution."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._alerts: dict[str, Alert] = {}

    def add_alert(
        self,
        device_id: str,
        name: str,
        *,
        description: str = "",
        severity: str = "warning",
        started_ago: float = 0.0,
        resolved: bool = False,
        emit: bool = False,
    ) -> Alert:
        """An alert on ``device_id`` that started ``started_ago`` seconds ago.

        ``emit``: send ``alert_active`` to the subscribed webhooks (delivered
        when the fake's current request ends, or at once outside a request).
        """
        if severity not in SEVERITIES:
            raise ValueError(f"severity is one of {SEVERITIES}")
        with self._lock:
            if device_id not in self._devices:
                raise KeyError(f"no device {device_id}")
            now = self.now()
            alert = Alert(
                self._new_id("alr"),
                device_id,
                name,
                description,
                severity,
                started_at=now - started_ago,
                resolved_at=now if resolved else None,
            )
            self._alerts[alert.id] = alert
            if emit:
                self._emit("alert_active", self.alert_view(alert))
        if emit:
            self.flush_unless_handling()
        return alert

    def resolve_alert(self, alert_id: str) -> Alert:
        """Resolve an alert as the API does (emitting ``alert_resolved`` the first time)."""
        with self._lock:
            alert = self._resolve(alert_id)
        self.flush_unless_handling()
        return alert

    def alert_view(self, alert: Alert) -> dict[str, Any]:
        """An alert as the API (and a webhook's ``data``) shows it."""
        return {
            "id": alert.id,
            "device_id": alert.device_id,
            "device_hostname": self._hostname(alert.device_id),
            "name": alert.name,
            "description": alert.description,
            "severity": alert.severity,
            "is_resolved": alert.is_resolved,
            "started_at": self.iso_at(alert.started_at),
            "resolved_at": self.iso_at(alert.resolved_at),
        }

    def webhook(
        self,
        event_type: str,
        alert_id: str,
        *,
        secret: str | None,
        timestamp_header: bool = False,
    ) -> tuple[bytes, dict[str, str]]:
        """The raw body and headers of Level's ``alert_active``/``alert_resolved`` for an alert.

        ``secret`` None: unsigned, as a webhook configured without a secret.
        """
        if event_type not in ALERT_EVENTS:
            raise ValueError(f"event_type is one of {ALERT_EVENTS}")
        with self._lock:
            data = self.alert_view(self._alerts[alert_id])
            return self.build_event(
                event_type, data, secret=secret, timestamp_header=timestamp_header
            )

    def send_webhook(
        self,
        url: str,
        event_type: str,
        alert_id: str,
        *,
        secret: str | None,
        timestamp_header: bool = False,
    ) -> WebhookDelivery:
        """Build :meth:`webhook` and POST it to ``url`` now (through ``webhook_transport``)."""
        body, headers = self.webhook(
            event_type, alert_id, secret=secret, timestamp_header=timestamp_header
        )
        return self.post_event(url, body, headers)

    def _resolve(self, alert_id: str) -> Alert:
        alert = self._alerts[alert_id]
        if not alert.is_resolved:
            alert.resolved_at = self.now()
            self._emit("alert_resolved", self.alert_view(alert))
        return alert

    # -- routes -----------------------------------------------------------------

    @route("GET", "/v2/alerts")
    def list_alerts(self, req: SandboxRequest) -> httpx.Response:
        """Alerts, filtered by ``status`` and ``device_id``."""
        alerts = list(self._alerts.values())
        status = req.arg("status")
        if status:
            if status not in _STATUSES:
                return error(400, f"status must be one of: {', '.join(_STATUSES)}")
            alerts = [a for a in alerts if a.is_resolved == (status == "resolved")]
        device_id = req.arg("device_id")
        if device_id:
            alerts = [a for a in alerts if a.device_id == device_id]
        return self.cursor_page(req, alerts, self.alert_view)

    @route("GET", "/v2/alerts/{alert_id}")
    def get_alert(self, req: SandboxRequest) -> httpx.Response:
        """One alert."""
        alert = self._alerts.get(req.path_params["alert_id"])
        if alert is None:
            return error(404, "Alert not found")
        return json_response(200, self.alert_view(alert))

    @route("POST", "/v2/alerts/{alert_id}/resolve")
    def resolve(self, req: SandboxRequest) -> httpx.Response:
        """Resolve an alert (idempotent)."""
        alert_id = req.path_params["alert_id"]
        if alert_id not in self._alerts:
            return error(404, "Alert not found")
        return json_response(200, self.alert_view(self._resolve(alert_id)))
