"""Rebooting a device (``POST /v2/device/{id}/reboot/{mode}``).

- ``POST /v2/device/{id}/reboot/{mode}`` (``NORMAL``/``FORCED``, else 400),
  optional body ``{"reason": str}`` -> 204, recorded in ``reboots``; after
  ``reboot_delay`` a ``SYSTEM``/``SYSTEM_REBOOTED`` activity appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.core import SandboxRequest, empty_response, route
from sandbox.ninjaone.activities import Activities
from sandbox.ninjaone.oauth import Grant

__all__ = ["REBOOT_MODES", "Reboot", "Reboots"]

REBOOT_MODES = ("NORMAL", "FORCED")


@dataclass(frozen=True)
class Reboot:
    """A reboot the fake accepted."""

    device_id: int
    mode: str
    reason: str | None
    user_id: int | None
    requested_at: float


class Reboots(Activities):
    """Reboots of devices, each followed by a SYSTEM_REBOOTED activity.

    ``reboot_delay``: seconds until a reboot's SYSTEM_REBOOTED activity appears.
    """

    def __init__(self, *, reboot_delay: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reboot_delay = reboot_delay
        self._reboots: list[Reboot] = []

    @property
    def reboots(self) -> list[Reboot]:
        """Every accepted reboot, oldest first."""
        with self._lock:
            return list(self._reboots)

    @route("POST", "/v2/device/{device_id}/reboot/{mode}")
    def reboot(self, req: SandboxRequest) -> httpx.Response:
        """``POST /v2/device/{id}/reboot/{mode}``."""
        mode = req.path_params["mode"]
        if mode not in REBOOT_MODES:
            return self._bad_request("mode must be NORMAL or FORCED")
        device, error = self._device_or_error(req.path_params["device_id"])
        if device is None:
            return error or self.not_found(req)
        body = req.body
        if body is not None and (not req.is_json or not isinstance(body, dict)):
            return self._bad_request("Request body must be a JSON object")
        reason = (body or {}).get("reason")
        if reason is not None and not isinstance(reason, str):
            return self._bad_request("reason must be a string")
        grant: Grant = req.context["grant"]
        self._reboots.append(Reboot(device["id"], mode, reason, grant.user_id, self.clock()))
        self._schedule(
            self.clock() + self.reboot_delay,
            {
                "deviceId": device["id"],
                "activityTime": self.epoch() + self.reboot_delay,
                "severity": "NONE",
                "priority": "NONE",
                "activityType": "SYSTEM",
                "statusCode": "SYSTEM_REBOOTED",
                "status": "System Rebooted",
                "message": f"{mode.title()} reboot" + (f": {reason}" if reason else ""),
                "data": {"mode": mode},
            },
        )
        return empty_response(204)
