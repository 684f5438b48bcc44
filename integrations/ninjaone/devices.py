"""NinjaOne devices: find (local mirror or live), sync into the mirror, reboot."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from actionkit.context import ActionContext
from actionkit.errors import NotFound
from catalog.rmm import mirrored_assets, search_mirrored_assets
from integrations.ninjaone.client import NinjaOneClient
from integrations.ninjaone.connection import PROVIDER, asset_ids, client_for, text_or_none
from integrations.ninjaone.models import (
    Device,
    DeviceInput,
    FindDevicesInput,
    FindDevicesOutput,
    RebootDeviceInput,
    RebootDeviceOutput,
    SyncDeviceOutput,
    WireDevice,
    epoch_seconds,
)
from store.db import insert_for
from store.models import Asset

# Pages are as large as the spec allows when a free-text query is filtered
# locally (NinjaOne has no free-text device search); otherwise just `limit`.
FILTERED_PAGE_SIZE = 200


def _agent_online(status: str | None) -> bool | None:
    return {"online": True, "offline": False}.get(status or "")


def _local_device(asset: Asset) -> Device:
    attrs = asset.attributes or {}
    return Device(
        external_device_id=str(asset.rmm_device_id),
        asset_id=asset.asset_id,
        organization_id=asset.rmm_organization_id,
        hostname=text_or_none(attrs.get("system_name")) or asset.name,
        display_name=text_or_none(attrs.get("display_name")) or asset.name,
        dns_name=text_or_none(attrs.get("dns_name")),
        agent_online=_agent_online(asset.agent_status),
        last_seen_at=asset.last_seen_at,
        os_name=text_or_none(attrs.get("os_name")),
        node_class=text_or_none(attrs.get("node_class")),
        source="local",
    )


def _live_device(device: WireDevice, asset_id: uuid.UUID | None) -> Device:
    return Device(
        external_device_id=str(device.id),
        asset_id=asset_id,
        organization_id=None if device.organization_id is None else str(device.organization_id),
        hostname=device.system_name,
        display_name=device.display_name or device.system_name,
        dns_name=device.dns_name,
        agent_online=None if device.offline is None else not device.offline,
        last_seen_at=epoch_seconds(device.last_contact),
        os_name=device.os.name if device.os else None,
        node_class=device.node_class,
        source="ninjaone",
    )


def _ninjaone_assets(tenant_id: str) -> Select[Asset]:
    return mirrored_assets(tenant_id, PROVIDER)


def _find_local(inp: FindDevicesInput, ctx: ActionContext) -> list[Device]:
    query = search_mirrored_assets(
        ctx.tenant_id,
        PROVIDER,
        device_id=None if inp.device_id is None else str(inp.device_id),
        asset_id=inp.asset_id,
        query=inp.query,
        limit=inp.limit,
    )
    with ctx.session() as session:
        return [_local_device(a) for a in session.scalars(query)]


def _one_device(client: NinjaOneClient, device_id: int) -> list[WireDevice]:
    try:
        return [client.get_device(device_id)]
    except NotFound:
        return []  # a search that finds nothing, not a failed step


def _find_live(inp: FindDevicesInput, ctx: ActionContext) -> list[Device]:
    device_id = inp.device_id
    if device_id is None and inp.asset_id is not None:
        with ctx.session() as session:
            mirrored = session.scalar(
                select(Asset.rmm_device_id).where(
                    Asset.tenant == ctx.tenant_id,
                    Asset.rmm_provider == PROVIDER,
                    Asset.asset_id == inp.asset_id,
                )
            )
        if mirrored is None or not mirrored.isdigit():
            return []  # an asset that mirrors no NinjaOne device matches nothing
        device_id = int(mirrored)
    with client_for(ctx) as client:
        if device_id is not None:
            found = _one_device(client, device_id)
            if inp.query is not None:
                found = [d for d in found if d.matches(inp.query)]
        else:
            found = []
            page_size = inp.limit if inp.query is None else FILTERED_PAGE_SIZE
            for device in client.iter_devices(page_size=page_size):
                if inp.query is None or device.matches(inp.query):
                    found.append(device)
                    if len(found) >= inp.limit:
                        break
    assets = asset_ids(ctx, [str(d.id) for d in found])
    return [_live_device(d, assets.get(str(d.id))) for d in found[: inp.limit]]


def find_devices(inp: FindDevicesInput, ctx: ActionContext) -> FindDevicesOutput:
    """Devices from the local mirror, or from NinjaOne with ``live`` (at most ``limit``)."""
    devices = _find_live(inp, ctx) if inp.live else _find_local(inp, ctx)
    return FindDevicesOutput(
        devices=devices, count=len(devices), source="ninjaone" if inp.live else "local"
    )


def _asset_type(node_class: str | None) -> str:
    kind = (node_class or "").upper()
    if "SERVER" in kind:
        return "server"
    if kind.endswith("WORKSTATION") or kind == "MAC" or not kind:
        return "workstation"
    return "network_device"  # NMS nodes, cloud monitors, VM hosts...


def _agent_status(offline: bool | None) -> str | None:
    return None if offline is None else ("offline" if offline else "online")


def _upsert_asset(session: Session, ctx: ActionContext, device: WireDevice) -> uuid.UUID:
    """Insert or update the one asset mirroring ``device`` (unique per tenant/provider/id)."""
    now = ctx.now()
    attributes = {
        "system_name": device.system_name,
        "display_name": device.display_name,
        "dns_name": device.dns_name,
        "netbios_name": device.netbios_name,
        "os_name": device.os.name if device.os else None,
        "node_class": device.node_class,
    }
    fields: dict[str, Any] = {
        "name": device.display_name or device.system_name or f"NinjaOne device {device.id}",
        "rmm_organization_id": (
            None if device.organization_id is None else str(device.organization_id)
        ),
        "agent_status": _agent_status(device.offline),
        "last_seen_at": epoch_seconds(device.last_contact),
        "updated_at": now,
    }
    # Insert-if-absent then update, so two syncs of one device racing each other
    # end with one row (the unique key) and the last answer from NinjaOne.
    session.execute(
        insert_for(session.get_bind())(Asset)
        .values(
            tenant=ctx.tenant_id,
            asset_type=_asset_type(device.node_class),
            rmm_provider=PROVIDER,
            rmm_device_id=str(device.id),
            attributes=attributes,
            created_at=now,
            **fields,
        )
        .on_conflict_do_nothing(index_elements=["tenant", "rmm_provider", "rmm_device_id"])
    )
    query = _ninjaone_assets(ctx.tenant_id).where(Asset.rmm_device_id == str(device.id))
    asset = session.scalars(query.with_for_update()).one()
    for name, value in fields.items():
        setattr(asset, name, value)
    asset.attributes = {**(asset.attributes or {}), **attributes}
    session.flush()
    return asset.asset_id


def sync_device(inp: DeviceInput, ctx: ActionContext) -> SyncDeviceOutput:
    """Fetch the device from NinjaOne and upsert its local asset."""
    with client_for(ctx) as client:
        device = client.get_device(inp.device_id)
    with ctx.session() as session:
        asset_id = _upsert_asset(session, ctx, device)
    return SyncDeviceOutput(synced=True, external_device_id=str(device.id), asset_id=asset_id)


def reboot_device(inp: RebootDeviceInput, ctx: ActionContext) -> RebootDeviceOutput:
    """``POST /v2/device/{id}/reboot/{mode}`` with the optional reason."""
    with client_for(ctx) as client:
        client.reboot(inp.device_id, inp.mode, inp.reason)
    return RebootDeviceOutput(reboot_requested=True, external_device_id=str(inp.device_id))
