"""A device's activity log (``/v2/device/{id}/activities``), filled on the fake's clock.

Other parts schedule activities (:meth:`Activities._schedule`) for a time on
the fake's clock; they become visible, with increasing ids in the order
they appear, once that time has come.

- ``GET /v2/device/{id}/activities?olderThan=&newerThan=&activityType=&status=
  &seriesUid=&pageSize=`` -> ``{"lastActivityId", "activities": [Activity]}``,
  newest first. ``olderThan=N`` keeps ids < N and ``newerThan=N`` ids > N
  (the spec's descriptions of the two are swapped; the names win); ``status``
  is a comma-separated list of ``statusCode`` values; ``pageSize`` 10..1000,
  default 200 (the spec's bounds; outside -> 400). ``lastActivityId`` is the
  id of the oldest activity on the page (pass it as ``olderThan`` for the
  next page), absent when the page is empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response, route
from sandbox.ninjaone.devices import Devices

__all__ = ["ACTIVITY_PAGE_DEFAULT", "ACTIVITY_PAGE_MAX", "ACTIVITY_PAGE_MIN", "Activities"]

ACTIVITY_PAGE_MIN, ACTIVITY_PAGE_MAX, ACTIVITY_PAGE_DEFAULT = 10, 1000, 200


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    activity: dict[str, Any] = field(compare=False)


class Activities(Devices):
    """Devices' activity logs; activities scheduled for later appear when their time comes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._activities: list[dict[str, Any]] = []
        self._pending: list[_Pending] = []
        self._seq = 0

    def add_activity(self, device_id: int, **fields: Any) -> dict[str, Any]:
        """Append an activity (spec field names) to a device's log now."""
        with self._lock:
            activity = {"deviceId": device_id, "activityTime": self.epoch(), **fields}
            self._schedule(self.clock(), activity)
            self._settle()
            return dict(self._activities[-1])

    def activities(self, device_id: int | None = None) -> list[dict[str, Any]]:
        """Activities visible now (of one device, or all), oldest first."""
        with self._lock:
            self._settle()
            return [
                dict(a) for a in self._activities if device_id is None or a["deviceId"] == device_id
            ]

    def _schedule(self, due: float, activity: dict[str, Any]) -> None:
        self._seq += 1
        self._pending.append(_Pending(due, self._seq, activity))

    def _settle(self) -> None:
        """Make every activity whose time has come visible, in time order."""
        if not self._pending:
            return
        now = self.clock()
        due = sorted(p for p in self._pending if p.due <= now)
        if not due:
            return
        self._pending = [p for p in self._pending if p.due > now]
        for pending in due:
            next_id = self._activities[-1]["id"] + 1 if self._activities else 1
            self._activities.append({"id": next_id, **pending.activity})

    @route("GET", "/v2/device/{device_id}/activities")
    def device_activities(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/device/{id}/activities``."""
        device, error = self._device_or_error(req.path_params["device_id"])
        if device is None:
            return error or self.not_found(req)
        try:
            older = int(req.arg("olderThan") or 0) or None
            newer = int(req.arg("newerThan") or 0) or None
            page_size = int(req.arg("pageSize") or ACTIVITY_PAGE_DEFAULT)
        except ValueError:
            return self._bad_request("olderThan, newerThan and pageSize must be integers")
        if not ACTIVITY_PAGE_MIN <= page_size <= ACTIVITY_PAGE_MAX:
            return self._bad_request(
                f"pageSize must be between {ACTIVITY_PAGE_MIN} and {ACTIVITY_PAGE_MAX}"
            )
        kind, series = req.arg("activityType"), req.arg("seriesUid")
        statuses = {s.strip() for s in (req.arg("status") or "").split(",") if s.strip()}
        found = [
            a
            for a in reversed(self._activities)
            if a["deviceId"] == device["id"]
            and (older is None or a["id"] < older)
            and (newer is None or a["id"] > newer)
            and (kind is None or a.get("activityType") == kind)
            and (series is None or a.get("seriesUid") == series)
            and (not statuses or a.get("statusCode") in statuses)
        ][:page_size]
        body: dict[str, Any] = {"activities": [dict(a) for a in found]}
        if found:
            body = {"lastActivityId": found[-1]["id"], **body}
        return json_response(200, body)
