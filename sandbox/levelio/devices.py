"""Groups and devices.

- ``GET /v2/groups`` -> cursor list of ``{id, name, parent_id}``;
  ``GET /v2/groups/{id}`` -> the group; unknown -> 404 ``Group not found``
  *(choice: the fake serves groups so clients can resolve group ids)*.
- ``GET /v2/devices`` -> cursor list of devices. ``group_id`` matches devices
  directly in that group only; ``ancestor_group_id`` matches devices in that
  group or any group below it (vendors.md §2). Both may be given (both
  apply); an unknown group matches nothing *(choice)*.
- ``GET /v2/devices/{id}`` -> the device; unknown -> 404 ``Device not found``.
- Device fields (vendors.md §2): ``id, hostname, nickname, role, group_id,
  tags, online, serial_number, last_seen_at, security_score, platform``
  (``Windows``/``Mac``/``Linux``). ``operating_system`` appears only with
  ``include_operating_system=true`` and ``security`` only with
  ``include_security=true``, on the list as on the detail *(choice)*. Their
  inner fields beyond ``full_operating_system`` are *(choice)*:
  ``operating_system {full_operating_system, name, version, architecture}``,
  ``security {antivirus_enabled, antivirus_name, firewall_enabled,
  disk_encrypted, pending_reboot}``.
- An online device's ``last_seen_at`` is now; an offline one keeps the time
  it went away (:meth:`Devices.set_online`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response, route
from sandbox.levelio.api import error, truthy
from sandbox.levelio.events import Events

__all__ = ["PLATFORMS", "Device", "Devices", "Group"]

PLATFORMS = ("Windows", "Mac", "Linux")


@dataclass
class Group:
    """A device group; ``parent_id`` None for a top-level one."""

    id: str
    name: str
    parent_id: str | None = None

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "parent_id": self.parent_id}


@dataclass
class Device:
    """One managed device."""

    id: str
    hostname: str
    group_id: str | None
    platform: str
    full_operating_system: str
    os_name: str
    os_version: str
    nickname: str | None = None
    role: str = "workstation"
    tags: list[str] = field(default_factory=list)
    online: bool = True
    serial_number: str | None = None
    security_score: int = 80
    architecture: str = "x86_64"
    last_seen: float = 0.0
    security: dict[str, Any] = field(default_factory=dict)


class Devices(Events):
    """Groups and devices, and the routes that read them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._groups: dict[str, Group] = {}
        self._devices: dict[str, Device] = {}

    def add_group(self, name: str, *, parent_id: str | None = None) -> Group:
        """A group, top-level or under ``parent_id``."""
        with self._lock:
            if parent_id is not None and parent_id not in self._groups:
                raise KeyError(f"no group {parent_id}")
            group = Group(self._new_id("grp"), name, parent_id)
            self._groups[group.id] = group
            return group

    def add_device(
        self,
        hostname: str,
        *,
        group_id: str | None,
        platform: str = "Windows",
        full_operating_system: str = "Microsoft Windows 11 Pro 23H2",
        os_name: str | None = None,
        os_version: str = "",
        security: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Device:
        """A device in ``group_id`` (other fields as :class:`Device`)."""
        if platform not in PLATFORMS:
            raise ValueError(f"platform is one of {PLATFORMS}")
        with self._lock:
            if group_id is not None and group_id not in self._groups:
                raise KeyError(f"no group {group_id}")
            device = Device(
                self._new_id("dev"),
                hostname,
                group_id,
                platform,
                full_operating_system,
                os_name or platform,
                os_version,
                last_seen=self.now(),
                security={
                    "antivirus_enabled": True,
                    "antivirus_name": "Microsoft Defender" if platform == "Windows" else None,
                    "firewall_enabled": True,
                    "disk_encrypted": platform != "Linux",
                    "pending_reboot": False,
                    **(security or {}),
                },
                **fields,
            )
            self._devices[device.id] = device
            return device

    def set_online(self, device_id: str, online: bool) -> None:
        """Take a device away (its ``last_seen_at`` stops moving) or bring it back."""
        with self._lock:
            device = self._devices[device_id]
            if device.online and not online:
                device.last_seen = self.now()
            device.online = online

    def device_view(
        self, device: Device, *, operating_system: bool = False, security: bool = False
    ) -> dict[str, Any]:
        """A device as the API shows it, with the nested objects asked for."""
        view: dict[str, Any] = {
            "id": device.id,
            "hostname": device.hostname,
            "nickname": device.nickname,
            "role": device.role,
            "group_id": device.group_id,
            "tags": list(device.tags),
            "online": device.online,
            "serial_number": device.serial_number,
            "last_seen_at": self.iso_at(self.now() if device.online else device.last_seen),
            "security_score": device.security_score,
            "platform": device.platform,
        }
        if operating_system:
            view["operating_system"] = {
                "full_operating_system": device.full_operating_system,
                "name": device.os_name,
                "version": device.os_version,
                "architecture": device.architecture,
            }
        if security:
            view["security"] = dict(device.security)
        return view

    def _descendants(self, group_id: str) -> set[str]:
        """``group_id`` and every group below it."""
        found = {group_id}
        grew = True
        while grew:
            below = {g.id for g in self._groups.values() if g.parent_id in found}
            grew = not below <= found
            found |= below
        return found

    def _hostname(self, device_id: str | None) -> str | None:
        device = self._devices.get(device_id or "")
        return device.hostname if device else None

    # -- routes -----------------------------------------------------------------

    @route("GET", "/v2/groups")
    def list_groups(self, req: SandboxRequest) -> httpx.Response:
        """Every group."""
        return self.cursor_page(req, list(self._groups.values()), Group.view)

    @route("GET", "/v2/groups/{group_id}")
    def get_group(self, req: SandboxRequest) -> httpx.Response:
        """One group."""
        group = self._groups.get(req.path_params["group_id"])
        if group is None:
            return error(404, "Group not found")
        return json_response(200, group.view())

    @route("GET", "/v2/devices")
    def list_devices(self, req: SandboxRequest) -> httpx.Response:
        """Devices, filtered by ``group_id`` (direct) and ``ancestor_group_id`` (recursive)."""
        devices = list(self._devices.values())
        group_id = req.arg("group_id")
        if group_id:
            devices = [d for d in devices if d.group_id == group_id]
        ancestor = req.arg("ancestor_group_id")
        if ancestor:
            below = self._descendants(ancestor) if ancestor in self._groups else set()
            devices = [d for d in devices if d.group_id in below]
        os_, sec = truthy(req.arg("include_operating_system")), truthy(req.arg("include_security"))
        return self.cursor_page(
            req, devices, lambda d: self.device_view(d, operating_system=os_, security=sec)
        )

    @route("GET", "/v2/devices/{device_id}")
    def get_device(self, req: SandboxRequest) -> httpx.Response:
        """One device, with ``operating_system``/``security`` only when asked for."""
        device = self._devices.get(req.path_params["device_id"])
        if device is None:
            return error(404, "Device not found")
        view = self.device_view(
            device,
            operating_system=truthy(req.arg("include_operating_system")),
            security=truthy(req.arg("include_security")),
        )
        return json_response(200, view)
