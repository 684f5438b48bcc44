"""Level devices: find (local mirror or live) and get (live, with OS and security details)."""

from __future__ import annotations

from typing import Any

from actionkit.context import ActionContext
from actionkit.errors import NotFound
from catalog import rmm
from integrations.levelio.client import DEVICES_PATH, LevelClient
from integrations.levelio.connection import PROVIDER, client_for
from integrations.levelio.models import (
    Device,
    FindDevicesInput,
    FindDevicesOutput,
    GetDeviceInput,
    GetDeviceOutput,
    device_from,
    ident,
    number,
)
from store.models import Asset

# The full operating system name is only sent when asked for.
WITH_OS = {"include_operating_system": "true"}
WITH_DETAILS = {"include_operating_system": "true", "include_security": "true"}


def _local_device(asset: Asset) -> Device:
    attrs = asset.attributes or {}
    return Device(
        device_id=str(asset.rmm_device_id),
        asset_id=asset.asset_id,
        hostname=rmm.text_or_none(attrs.get("hostname")) or asset.name,
        nickname=rmm.text_or_none(attrs.get("nickname")),
        group_id=asset.rmm_organization_id,
        online=None if asset.agent_status is None else asset.agent_status.lower() == "online",
        platform=rmm.text_or_none(attrs.get("platform")),
        os_name=rmm.text_or_none(attrs.get("os_name")),
        serial_number=asset.serial_number,
        last_seen_at=asset.last_seen_at,
        security_score=number(attrs.get("security_score")),
        source="local",
    )


def _live_devices(ctx: ActionContext, items: list[dict[str, Any]]) -> list[Device]:
    ids = [ident(item.get("id")) or "" for item in items]
    assets = rmm.asset_ids(ctx, PROVIDER, [i for i in ids if i])
    return [device_from(item, assets.get(i)) for item, i in zip(items, ids, strict=True)]


def _device(client: LevelClient, device_id: str, params: dict[str, str]) -> dict[str, Any]:
    """``GET /v2/devices/{id}``; NOT_FOUND naming the device when Level has none."""
    try:
        return client.get_device(device_id, **params)
    except NotFound as exc:
        raise NotFound(
            f"Level has no device {device_id!r} ({exc.message})",
            vendor=exc.vendor,
            details={"device_id": device_id},
        ) from None


def _find_live(inp: FindDevicesInput, ctx: ActionContext) -> list[Device]:
    device_id = rmm.live_device_id(ctx, PROVIDER, device_id=inp.device_id, asset_id=inp.asset_id)
    if device_id is False:
        return []  # an asset that mirrors no (or another) device matches nothing
    needle = None if inp.query is None else inp.query.lower()

    def matches(item: dict[str, Any]) -> bool:
        if inp.group_id is not None and item.get("group_id") != inp.group_id:
            return False
        hostname = rmm.text_or_none(item.get("hostname")) or rmm.text_or_none(item.get("name"))
        return needle is None or (hostname is not None and needle in hostname.lower())

    with client_for(ctx) as client:
        if device_id is not None:
            try:
                found = [_device(client, device_id, WITH_OS)]
            except NotFound:
                found = []  # a search that finds nothing, not a failed step
            found = [item for item in found if matches(item)]
        else:
            found = client.collect(
                DEVICES_PATH,
                limit=inp.limit,
                params={"group_id": inp.group_id, **WITH_OS},
                keep=None if needle is None else matches,
            )
    return _live_devices(ctx, found[: inp.limit])


def find_devices(inp: FindDevicesInput, ctx: ActionContext) -> FindDevicesOutput:
    """Devices from the local mirror, or from Level with ``live`` (at most ``limit``)."""
    if inp.live:
        devices = _find_live(inp, ctx)
    else:
        devices = rmm.find_mirrored_assets(
            ctx,
            PROVIDER,
            _local_device,
            device_id=inp.device_id,
            asset_id=inp.asset_id,
            query=inp.query,
            limit=inp.limit,
            organization_id=inp.group_id,
        )
    return FindDevicesOutput(devices=devices, count=len(devices))


def get_device(inp: GetDeviceInput, ctx: ActionContext) -> GetDeviceOutput:
    """``GET /v2/devices/{id}?include_operating_system=true&include_security=true``."""
    with client_for(ctx) as client:
        item = _device(client, inp.device_id, WITH_DETAILS)
    [device] = _live_devices(ctx, [item])
    return GetDeviceOutput(
        device=device,
        operating_system=item.get("operating_system"),
        security=item.get("security"),
    )
