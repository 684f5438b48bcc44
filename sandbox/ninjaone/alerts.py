"""Alerts: the active ones (``/v2/alerts``, ``/v2/device/{id}/alerts``) and resetting them.

- ``GET /v2/alerts?sourceType=&df=`` -> ``[Alert]`` active alerts, each with
  ``device`` (NodeWithDetailedReferences); no pagination (as in the spec);
  ``lang``/``tz`` accepted and ignored. ``GET /v2/device/{id}/alerts`` likewise.
- ``POST /v2/alert/{uid}/reset`` (optional JSON object body) and
  ``DELETE /v2/alert/{uid}`` -> 204; the alert leaves the active list;
  unknown or already reset -> 404.

"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.core import SandboxRequest, empty_response, json_response, route
from sandbox.ninjaone.devices import Devices

__all__ = ["AlertReset", "Alerts"]


@dataclass(frozen=True)
class AlertReset:
    """An alert reset the fake accepted (``method`` is POST or DELETE)."""

    uid: str
    method: str
    body: Any
    requested_at: float


class Alerts(Devices):
    """Devices' active alerts, and their resets."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._alerts: dict[str, dict[str, Any]] = {}
        self._reset_alerts: set[str] = set()
        self._alert_resets: list[AlertReset] = []

    def add_alert(
        self,
        device_id: int,
        *,
        message: str,
        source_type: str = "CONDITION_AGENT_CPU",
        source_name: str = "CPU Utilization",
        subject: str | None = None,
        uid: str | None = None,
        create_time: float | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An active alert on ``device_id``; returned as ``GET /v2/alerts`` shows it."""
        with self._lock:
            if device_id not in self._devices:
                raise KeyError(f"no device {device_id}")
            created = self.epoch() if create_time is None else create_time
            alert: dict[str, Any] = {
                "uid": uid or str(uuid.uuid4()),
                "deviceId": device_id,
                "message": message,
                "createTime": created,
                "updateTime": created,
                "sourceType": source_type,
                "sourceConfigUid": str(uuid.uuid4()),
                "sourceName": source_name,
                "subject": subject or source_name,
                "data": dict(data or {}),
            }
            self._alerts[alert["uid"]] = alert
            self._reset_alerts.discard(alert["uid"])
            return self._alert_view(alert)

    @property
    def alert_resets(self) -> list[AlertReset]:
        """Every accepted alert reset, oldest first."""
        with self._lock:
            return list(self._alert_resets)

    def active_alerts(self) -> list[dict[str, Any]]:
        """Alerts not yet reset, as ``GET /v2/alerts`` shows them."""
        with self._lock:
            return [self._alert_view(a) for a in self._active_alerts()]

    def _active_alerts(self) -> list[dict[str, Any]]:
        return [a for uid, a in self._alerts.items() if uid not in self._reset_alerts]

    def _alert_view(self, alert: Mapping[str, Any]) -> dict[str, Any]:
        view = dict(alert)
        device = self._devices.get(alert["deviceId"])
        if device is not None:
            view["device"] = self._node_view(device)
        return view

    @route("GET", "/v2/alerts")
    def list_alerts(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/alerts``."""
        alerts = self._active_alerts()
        source_type = req.arg("sourceType")
        if source_type:
            alerts = [a for a in alerts if a["sourceType"] == source_type]
        if req.arg("df"):
            devices = self._filtered_devices(req)
            if isinstance(devices, httpx.Response):
                return devices
            ids = {d["id"] for d in devices}
            alerts = [a for a in alerts if a["deviceId"] in ids]
        return json_response(200, [self._alert_view(a) for a in alerts])

    @route("GET", "/v2/device/{device_id}/alerts")
    def device_alerts(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/device/{id}/alerts``."""
        device, error = self._device_or_error(req.path_params["device_id"])
        if device is None:
            return error or self.not_found(req)
        alerts = [a for a in self._active_alerts() if a["deviceId"] == device["id"]]
        return json_response(200, [self._alert_view(a) for a in alerts])

    @route("POST", "/v2/alert/{uid}/reset")
    @route("DELETE", "/v2/alert/{uid}")
    def reset_alert(self, req: SandboxRequest) -> httpx.Response:
        """``POST /v2/alert/{uid}/reset`` and ``DELETE /v2/alert/{uid}``."""
        uid = req.path_params["uid"]
        if (
            req.method == "POST"
            and req.body is not None
            and not (req.is_json and isinstance(req.body, dict))
        ):
            return self._bad_request("Request body must be a JSON object")
        if uid not in self._alerts or uid in self._reset_alerts:
            return self._not_found(f"Alert {uid} not found")
        self._reset_alerts.add(uid)
        self._alert_resets.append(AlertReset(uid, req.method, req.body, self.clock()))
        return empty_response(204)
