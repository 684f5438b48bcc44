"""NinjaOne's inventory: organizations, locations and devices (``/v2/devices``, ``/v2/device``).

- ``GET /v2/devices?df=&pageSize=&after=`` -> ``[NodeWithDetailedReferences]``,
  ascending ``id``; ``after`` = last device id of the previous page; no
  ``pageSize`` = every device *(choice)*; the last page is the first one
  shorter than ``pageSize``. ``GET /v2/devices-detailed`` the same, as ``[Device]``.
- ``GET /v2/device/{id}`` -> ``Device`` (plus ``os: {name, architecture,
  lastBootTime, needsReboot}``, which the real API returns but the spec's
  Device schema does not declare).
- ``df`` (device filter): see :mod:`sandbox.ninjaone.device_filter`.
- ``GET /v2/organizations?pageSize=&after=`` -> ``[Organization]`` (brief:
  ``id``, ``name``), ascending ``id``, paged like the devices (what
  patchbay's connection check reads).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response, route
from sandbox.ninjaone.api import NinjaOneApi
from sandbox.ninjaone.device_filter import parse_device_filter

__all__ = ["Devices", "os_family"]

_DEFAULT_OS = {
    "WINDOWS_WORKSTATION": "Windows 11 Pro Edition",
    "WINDOWS_SERVER": "Windows Server 2022 Standard Edition",
    "MAC": "macOS Sonoma",
    "MAC_SERVER": "macOS Sonoma",
    "LINUX_WORKSTATION": "Ubuntu 22.04.4 LTS",
    "LINUX_SERVER": "Ubuntu 22.04.4 LTS",
}
# Properties of the spec's NodeWithDetailedReferences (what /v2/devices returns).
_NODE_FIELDS = (
    "id",
    "uid",
    "assignedOwnerUid",
    "parentDeviceId",
    "organizationId",
    "locationId",
    "nodeClass",
    "nodeRoleId",
    "rolePolicyId",
    "policyId",
    "approvalStatus",
    "offline",
    "displayName",
    "systemName",
    "dnsName",
    "netbiosName",
    "created",
    "lastContact",
    "lastUpdate",
    "userData",
    "tags",
    "fields",
    "maintenance",
    "references",
)


def os_family(node_class: str) -> str | None:
    """WINDOWS, MAC or LINUX for node classes that run scripts, else None."""
    if node_class.startswith("WINDOWS_"):
        return "WINDOWS"
    if node_class in ("MAC", "MAC_SERVER"):
        return "MAC"
    if node_class.startswith("LINUX_"):
        return "LINUX"
    return None


class Devices(NinjaOneApi):
    """The devices of a NinjaOne instance, with their organizations and locations."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._organizations: dict[int, dict[str, Any]] = {}
        self._locations: dict[int, dict[str, Any]] = {}
        self._devices: dict[int, dict[str, Any]] = {}

    # -- seeding: inventory ---------------------------------------------------

    def add_organization(self, organization_id: int, name: str) -> dict[str, Any]:
        """An organization, shown in devices' ``references.organization``."""
        with self._lock:
            org = {"id": organization_id, "name": name}
            self._organizations[organization_id] = org
            return dict(org)

    def add_location(self, location_id: int, name: str) -> dict[str, Any]:
        """A location, shown in devices' ``references.location``."""
        with self._lock:
            loc = {"id": location_id, "name": name}
            self._locations[location_id] = loc
            return dict(loc)

    def add_device(
        self,
        system_name: str,
        *,
        device_id: int | None = None,
        display_name: str | None = None,
        organization_id: int = 1,
        location_id: int = 1,
        node_class: str = "WINDOWS_WORKSTATION",
        offline: bool = False,
        dns_name: str | None = None,
        os_name: str | None = None,
        approval_status: str = "APPROVED",
        last_contact: float | None = None,
        tags: Iterable[str] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add a device and return it as ``GET /v2/device/{id}`` shows it.

        ``device_id`` defaults to one more than the highest so far. ``extra``
        sets or overrides any other Device property (spec names, e.g.
        ``{"nodeRoleId": 3, "publicIP": "203.0.113.9"}``).
        """
        with self._lock:
            new_id = device_id if device_id is not None else max(self._devices, default=0) + 1
            if new_id in self._devices:
                raise ValueError(f"device {new_id} exists")
            now = self.epoch()
            device: dict[str, Any] = {
                "id": new_id,
                "uid": str(uuid.uuid4()),
                "organizationId": organization_id,
                "locationId": location_id,
                "nodeClass": node_class,
                "nodeRoleId": 1,
                "rolePolicyId": 1,
                "approvalStatus": approval_status,
                "offline": offline,
                "displayName": display_name or system_name,
                "systemName": system_name,
                "dnsName": dns_name or system_name.lower(),
                "netbiosName": system_name.upper()[:15],
                "created": now - 86_400.0,
                "lastContact": now - (3_600.0 if offline else 30.0)
                if last_contact is None
                else last_contact,
                "lastUpdate": now - (3_600.0 if offline else 30.0),
                "tags": list(tags),
                "ipAddresses": [f"10.0.0.{new_id % 250 + 2}"],
                "macAddresses": [f"00:15:5d:00:{new_id // 256 % 256:02x}:{new_id % 256:02x}"],
                "publicIP": "198.51.100.10",
                "notes": [],
                "deviceType": "AGENT" if os_family(node_class) else "NMS",
            }
            family_os = os_name or _DEFAULT_OS.get(node_class)
            if family_os is not None:
                device["os"] = {
                    "name": family_os,
                    "architecture": "64-bit",
                    "lastBootTime": now - 7 * 86_400.0,
                    "needsReboot": False,
                }
            device.update(extra or {})
            self._devices[new_id] = device
            return self._device_view(device)

    # -- devices --------------------------------------------------------------

    def _device_or_error(self, raw_id: str) -> tuple[dict[str, Any] | None, httpx.Response | None]:
        try:
            device_id = int(raw_id)
        except ValueError:
            return None, self._bad_request("Invalid device id")
        device = self._devices.get(device_id)
        if device is None:
            return None, self._not_found(f"Device {device_id} not found")
        return device, None

    def _references(self, device: Mapping[str, Any]) -> dict[str, Any] | None:
        refs: dict[str, Any] = {}
        org = self._organizations.get(device["organizationId"])
        if org is not None:
            refs["organization"] = dict(org)
        loc = self._locations.get(device["locationId"])
        if loc is not None:
            refs["location"] = dict(loc)
        return refs or None

    def _node_view(self, device: Mapping[str, Any]) -> dict[str, Any]:
        view = {k: device[k] for k in _NODE_FIELDS if k in device}
        refs = self._references(device)
        if refs is not None:
            view["references"] = refs
        return view

    def _device_view(self, device: Mapping[str, Any]) -> dict[str, Any]:
        view = dict(device)
        refs = self._references(device)
        if refs is not None:
            view["references"] = refs
        return view

    def _filtered_devices(self, req: SandboxRequest) -> list[dict[str, Any]] | httpx.Response:
        df = req.arg("df")
        devices = [self._devices[i] for i in sorted(self._devices)]
        if df:
            try:
                keep = parse_device_filter(df)
            except ValueError:
                return self._bad_request("Invalid device filter")
            devices = [d for d in devices if keep(d)]
        return devices

    def _page(
        self, req: SandboxRequest, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]] | httpx.Response:
        """``items`` (ascending id) after ``after``, at most ``pageSize`` of them."""
        try:
            page_size = int(req.arg("pageSize") or 0) or None
            after = int(req.arg("after") or 0) or None
        except ValueError:
            return self._bad_request("pageSize and after must be integers")
        if page_size is not None and page_size < 1:
            return self._bad_request("pageSize must be positive")
        if after is not None:
            items = [d for d in items if d["id"] > after]
        return items[:page_size] if page_size is not None else items

    def _page_devices(self, req: SandboxRequest) -> list[dict[str, Any]] | httpx.Response:
        devices = self._filtered_devices(req)
        if isinstance(devices, httpx.Response):
            return devices
        return self._page(req, devices)

    @route("GET", "/v2/organizations")
    def list_organizations(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/organizations``."""
        page = self._page(req, [self._organizations[i] for i in sorted(self._organizations)])
        if isinstance(page, httpx.Response):
            return page
        return json_response(200, [dict(org) for org in page])

    @route("GET", "/v2/devices")
    def list_devices(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/devices``."""
        page = self._page_devices(req)
        if isinstance(page, httpx.Response):
            return page
        return json_response(200, [self._node_view(d) for d in page])

    @route("GET", "/v2/devices-detailed")
    def list_devices_detailed(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/devices-detailed``."""
        page = self._page_devices(req)
        if isinstance(page, httpx.Response):
            return page
        return json_response(200, [self._device_view(d) for d in page])

    @route("GET", "/v2/device/{device_id}")
    def get_device(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/device/{id}``."""
        device, error = self._device_or_error(req.path_params["device_id"])
        if device is None:
            return error or self.not_found(req)
        return json_response(200, self._device_view(device))
