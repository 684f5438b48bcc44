"""The NinjaOne actions: plain handlers ``(input, ctx) -> output | Pending`` and their specs.

Reads of the local mirror (``assets``, ``rmm_alerts``) need no credentials;
everything that talks to NinjaOne builds a client from the tenant's
connection row (instance URL) and secrets (``credentials.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from actionkit.context import ActionContext, NotApplied, Pending
from actionkit.errors import ActionError, IntegrationInactive, NotFound, TransientError
from actionkit.spec import ActionSpec, ActionUI
from catalog.actions import ActionRegistry
from integrations.ninjaone.client import HOSTS, NinjaOneClient
from integrations.ninjaone.credentials import TenantTokens
from integrations.ninjaone.models import (
    Alert,
    AlertInput,
    Device,
    DeviceInput,
    FindDevicesInput,
    FindDevicesOutput,
    GetAlertOutput,
    ListActiveAlertsInput,
    ListAlertsOutput,
    RebootDeviceInput,
    RebootDeviceOutput,
    ResetAlertOutput,
    RunScriptInput,
    RunScriptOutput,
    ScriptingOptionsOutput,
    ScriptOption,
    SyncDeviceOutput,
    WireActivity,
    WireAlert,
    WireDevice,
    WireScript,
    epoch_seconds,
)
from store.connections import allows_custom_host
from store.models import Asset, RmmAlert, RmmIntegration

PROVIDER = "ninjaone"
CATEGORY = "NinjaOne"
ICON = "ninjaone"
# Pages are as large as the spec allows when a free-text query is filtered
# locally (NinjaOne has no free-text device search); otherwise just `limit`.
FILTERED_PAGE_SIZE = 200
ACTIVITY_PAGE_SIZE = 1000
MAX_CHECK_INTERVAL = 30.0


# -- shared -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Connection:
    integration_id: uuid.UUID
    instance_url: str | None
    allow_custom_host: bool


def _connection(ctx: ActionContext) -> _Connection:
    """The tenant's NinjaOne integration id, instance URL and custom-host permission."""
    with ctx.session() as session:
        row = session.execute(
            select(
                RmmIntegration.integration_id,
                RmmIntegration.instance_url,
                RmmIntegration.settings,
            ).where(RmmIntegration.tenant == ctx.tenant_id, RmmIntegration.provider == PROVIDER)
        ).first()
    if row is None:
        raise IntegrationInactive(
            "NinjaOne integration is not active for this tenant", details={"provider": PROVIDER}
        )
    return _Connection(row.integration_id, row.instance_url, allows_custom_host(row.settings))


@contextmanager
def client_for(ctx: ActionContext) -> Iterator[NinjaOneClient]:
    """A client for the tenant's instance, authenticated from its secrets, gated by ``ctx``."""
    connection = _connection(ctx)
    policy = ctx.outbound(HOSTS, allow_custom_host=connection.allow_custom_host)
    tokens = TenantTokens(ctx)
    with NinjaOneClient(
        connection.instance_url,
        policy=policy,
        transport=ctx.transport(PROVIDER),
        gate=ctx.gate,
        tokens=tokens,
    ) as client:
        yield client


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _asset_ids(ctx: ActionContext, device_ids: Sequence[str]) -> dict[str, uuid.UUID]:
    """Local asset ids of the given NinjaOne device ids (one query)."""
    if not device_ids:
        return {}
    with ctx.session() as session:
        rows = session.execute(
            select(Asset.rmm_device_id, Asset.asset_id).where(
                Asset.tenant == ctx.tenant_id,
                Asset.rmm_provider == PROVIDER,
                Asset.rmm_device_id.in_(sorted(set(device_ids))),
            )
        )
        return {str(r.rmm_device_id): r.asset_id for r in rows}


# -- devices ------------------------------------------------------------------------


def _agent_online(status: str | None) -> bool | None:
    return {"online": True, "offline": False}.get(status or "")


def _local_device(asset: Asset) -> Device:
    attrs = asset.attributes or {}
    return Device(
        external_device_id=str(asset.rmm_device_id),
        asset_id=asset.asset_id,
        organization_id=asset.rmm_organization_id,
        hostname=_text(attrs.get("system_name")) or asset.name,
        display_name=_text(attrs.get("display_name")) or asset.name,
        dns_name=_text(attrs.get("dns_name")),
        agent_online=_agent_online(asset.agent_status),
        last_seen_at=asset.last_seen_at,
        os_name=_text(attrs.get("os_name")),
        node_class=_text(attrs.get("node_class")),
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
    return select(Asset).where(
        Asset.tenant == tenant_id,
        Asset.rmm_provider == PROVIDER,
        Asset.rmm_device_id.is_not(None),
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _find_local(inp: FindDevicesInput, ctx: ActionContext) -> list[Device]:
    query = _ninjaone_assets(ctx.tenant_id)
    if inp.device_id is not None:
        query = query.where(Asset.rmm_device_id == str(inp.device_id))
    if inp.asset_id is not None:
        query = query.where(Asset.asset_id == inp.asset_id)
    if inp.query is not None:
        pattern = f"%{_escape_like(inp.query)}%"
        query = query.where(
            or_(
                Asset.name.ilike(pattern, escape="\\"),
                Asset.asset_tag.ilike(pattern, escape="\\"),
                Asset.serial_number.ilike(pattern, escape="\\"),
            )
        )
    query = query.order_by(func.lower(Asset.name), Asset.asset_id).limit(inp.limit)
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
    assets = _asset_ids(ctx, [str(d.id) for d in found])
    return [_live_device(d, assets.get(str(d.id))) for d in found[: inp.limit]]


def find_devices(inp: FindDevicesInput, ctx: ActionContext) -> FindDevicesOutput:
    """Devices from the local mirror, or from NinjaOne with ``live`` (at most ``limit``)."""
    devices = _find_live(inp, ctx) if inp.live else _find_local(inp, ctx)
    return FindDevicesOutput(devices=devices, count=len(devices))


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
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(Asset)
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


def _script_option(item: WireScript, default_type: str) -> ScriptOption:
    return ScriptOption(
        id=item.id,
        uid=item.uid,
        name=item.name,
        type=(item.type or default_type).upper(),
        language=item.language,
        description=item.description,
        category_id=item.category_id,
    )


def scripting_options(inp: DeviceInput, ctx: ActionContext) -> ScriptingOptionsOutput:
    """The scripts and built-in actions NinjaOne offers for the device."""
    with client_for(ctx) as client:
        options = client.scripting_options(inp.device_id)
    scripts = [_script_option(s, "SCRIPT") for s in options.scripts]
    scripts += [_script_option(a, "ACTION") for a in (*options.actions, *options.built_in_actions)]
    return ScriptingOptionsOutput(scripts=scripts, count=len(scripts))


# -- script runs --------------------------------------------------------------------


def _run_body(inp: RunScriptInput) -> dict[str, Any]:
    body: dict[str, Any] = {"type": inp.type}
    if inp.type == "SCRIPT":
        body["id"] = inp.script_id
    else:
        body["uid"] = str(inp.action_uid)
    if inp.parameters is not None:
        body["parameters"] = inp.parameters
    if inp.run_as is not None:
        body["runAs"] = inp.run_as
    return body


def _check_interval(checks: int) -> float:
    """3 s, 6 s, 12 s, 24 s, then every 30 s: quick scripts finish fast, long ones poll less."""
    return min(MAX_CHECK_INTERVAL, 3.0 * (1 << min(checks, 10)))


def run_script(inp: RunScriptInput, ctx: ActionContext) -> RunScriptOutput | Pending:
    """Ask NinjaOne to run the script; with ``wait_for_result``, wait for its outcome.

    NinjaOne answers the run with no body, so the outcome is found later among
    the device's activities: newer than the newest one seen before the run, of
    this script or action. The handler notes that activity id and returns
    Pending; :func:`check_run_script` looks for the result.
    """
    with client_for(ctx) as client:
        newest = 0
        if inp.wait_for_result:
            seen = client.device_activities(inp.device_id, page_size=10).activities
            newest = max((a.id for a in seen), default=0)
        vendor_response = client.run_script(inp.device_id, _run_body(inp))
    if not inp.wait_for_result:
        return RunScriptOutput(
            run_requested=True,
            external_device_id=str(inp.device_id),
            vendor_response=vendor_response,
        )
    # Nothing after the run request may fail the step with a retryable error:
    # a retry would start the script again. The check step absorbs those.
    return Pending(
        check_after=_check_interval(0),
        state={"after_activity_id": newest, "series_uid": None, "checks": 0},
        timeout=float(inp.timeout_seconds),
        note=f"waiting for NinjaOne to report the result on device {inp.device_id}",
    )


def _is_this_run(activity: WireActivity, inp: RunScriptInput) -> bool:
    data = activity.data
    if data.get("scriptType") not in (None, inp.type):
        return False
    if inp.type == "SCRIPT":
        return data.get("scriptId") == inp.script_id
    uid = str(inp.action_uid).lower()
    return str(data.get("actionUid") or activity.source_config_uid or "").lower() == uid


def check_run_script(
    inp: RunScriptInput, state: dict[str, Any], ctx: ActionContext
) -> RunScriptOutput | Pending:
    """Look for the run's COMPLETED activity; Pending again until it shows up."""
    checks = int(state.get("checks", 0)) + 1
    series = state.get("series_uid")
    try:
        with client_for(ctx) as client:
            if series:
                found = client.device_activities(inp.device_id, series_uid=series)
            else:
                found = client.device_activities(
                    inp.device_id,
                    newer_than=int(state.get("after_activity_id", 0)) or None,
                    activity_type="ACTION",
                    page_size=ACTIVITY_PAGE_SIZE,
                )
    except TransientError as exc:
        # Re-raising would have the step retried from the start, running the
        # script again; a failed look is just another look later.
        wait = max(_check_interval(checks), exc.retry_after or 0.0)
        return Pending(
            check_after=min(wait, MAX_CHECK_INTERVAL * 2),
            state={**state, "checks": checks},
            note=f"checking again: {exc.message}",
        )
    activities = sorted(found.activities, key=lambda a: a.id)
    if not series:
        start = next((a for a in activities if a.series_uid and _is_this_run(a, inp)), None)
        series = start.series_uid if start is not None else None
    done = next(
        (
            a
            for a in activities
            if series
            and a.series_uid == series
            and (a.activity_result is not None or a.status_code == "COMPLETED")
        ),
        None,
    )
    if done is None:
        return Pending(
            check_after=_check_interval(checks),
            state={**state, "series_uid": series, "checks": checks},
            note="the script has not reported a result yet"
            if series
            else "NinjaOne has not logged the run yet",
        )
    exit_code = done.data.get("exitCode")
    output = done.data.get("output")
    return RunScriptOutput(
        run_requested=True,
        external_device_id=str(inp.device_id),
        completed=True,
        result=done.activity_result,
        output=output if isinstance(output, str) else done.message,
        exit_code=exit_code
        if isinstance(exit_code, int) and not isinstance(exit_code, bool)
        else None,
        series_uid=series,
        completed_at=epoch_seconds(done.activity_time),
    )


# -- alerts -------------------------------------------------------------------------


def _local_alert(row: RmmAlert) -> Alert:
    source = row.source_data or {}
    return Alert(
        alert_id=str(row.alert_id),
        external_alert_id=row.external_alert_id,
        status=row.status,
        severity=row.severity,
        priority=row.priority,
        title=_text(source.get("sourceName")) or _text(source.get("subject")) or row.activity_type,
        message=row.message,
        device_id=row.external_device_id,
        asset_id=row.asset_id,
        source_type=row.source_type,
        created_at=row.triggered_at,
        updated_at=row.updated_at,
        acknowledged=row.status == "acknowledged",
    )


def _live_alert(alert: WireAlert, asset_id: uuid.UUID | None) -> Alert:
    return Alert(
        alert_id=alert.uid,
        external_alert_id=alert.uid,
        status="active",
        severity=alert.severity,
        priority=alert.priority,
        title=alert.source_name or alert.subject,
        message=alert.message,
        device_id=None if alert.device_id is None else str(alert.device_id),
        asset_id=asset_id,
        source_type=alert.source_type,
        created_at=epoch_seconds(alert.create_time),
        updated_at=epoch_seconds(alert.update_time),
        acknowledged=False,
    )


def _live_alerts(ctx: ActionContext, alerts: list[WireAlert]) -> list[Alert]:
    device_ids = [str(a.device_id) for a in alerts if a.device_id is not None]
    assets = _asset_ids(ctx, device_ids)
    return [
        _live_alert(a, None if a.device_id is None else assets.get(str(a.device_id)))
        for a in alerts
    ]


def list_active_alerts(inp: ListActiveAlertsInput, ctx: ActionContext) -> ListAlertsOutput:
    """Active alerts, newest first: the local mirror, or NinjaOne with ``live``."""
    integration_id = _connection(ctx).integration_id
    if inp.live:
        with client_for(ctx) as client:
            wire = client.list_alerts()
        wire.sort(key=lambda a: a.create_time or 0.0, reverse=True)
        alerts = _live_alerts(ctx, wire[: inp.limit])
    else:
        with ctx.session() as session:
            rows = session.scalars(
                select(RmmAlert)
                .where(
                    RmmAlert.tenant == ctx.tenant_id,
                    RmmAlert.integration_id == integration_id,
                    RmmAlert.status == "active",
                )
                .order_by(RmmAlert.triggered_at.desc().nulls_last(), RmmAlert.alert_id)
                .limit(inp.limit)
            )
            alerts = [_local_alert(r) for r in rows]
    return ListAlertsOutput(alerts=alerts, count=len(alerts))


def _find_local_alert(
    session: Session, ctx: ActionContext, integration_id: uuid.UUID, inp: AlertInput
) -> RmmAlert | None:
    matches = []
    if inp.alert_uid is not None:
        # A local id or the NinjaOne uid: both are UUIDs (the input model checks).
        matches.append(RmmAlert.alert_id == uuid.UUID(inp.alert_uid))
        matches.append(RmmAlert.external_alert_id == inp.alert_uid)
    if inp.external_alert_id is not None:
        matches.append(RmmAlert.external_alert_id == inp.external_alert_id)
    return session.scalars(
        select(RmmAlert)
        .where(
            RmmAlert.tenant == ctx.tenant_id,
            RmmAlert.integration_id == integration_id,
            or_(*matches),
        )
        .order_by(RmmAlert.alert_id)
        .limit(1)
    ).first()


def _vendor_uid(inp: AlertInput) -> str:
    reference = inp.external_alert_id or inp.alert_uid
    assert reference is not None  # the input model requires one of them
    return reference


def get_alert(inp: AlertInput, ctx: ActionContext) -> GetAlertOutput:
    """The alert from the local mirror, else among NinjaOne's active alerts."""
    integration_id = _connection(ctx).integration_id
    with ctx.session() as session:
        row = _find_local_alert(session, ctx, integration_id, inp)
        if row is not None:
            return GetAlertOutput(alert=_local_alert(row))
    uid = _vendor_uid(inp)
    with client_for(ctx) as client:
        live = [a for a in client.list_alerts() if a.uid == uid]
    if not live:
        raise NotFound(
            f"Alert not found: {uid} is neither in the local mirror nor active in NinjaOne",
            details={"alert": uid},
        )
    return GetAlertOutput(alert=_live_alerts(ctx, live[:1])[0])


def _alert_to_reset(ctx: ActionContext, inp: AlertInput) -> tuple[uuid.UUID | None, str]:
    """The alert's local mirror id (if mirrored) and its NinjaOne uid, fit for the reset path."""
    integration_id = _connection(ctx).integration_id
    with ctx.session() as session:
        row = _find_local_alert(session, ctx, integration_id, inp)
        if row is not None:
            return row.alert_id, _mirrored_uid(row)
    return None, _vendor_uid(inp)


def _mirrored_uid(row: RmmAlert) -> str:
    """The mirror's NinjaOne uid, checked: it goes into ``/v2/alert/{uid}/reset``.

    NinjaOne declares that uid as ``format: uuid``; the input model checks the
    uids a step gives, and a mirrored one is held to the same form.
    """
    try:
        return str(uuid.UUID(row.external_alert_id))
    except ValueError:
        raise ActionError(
            f"Alert {row.alert_id} in the local mirror has NinjaOne uid "
            f"{row.external_alert_id!r}, which is not a UUID; nothing was sent to NinjaOne",
            code="ALERT_UID_INVALID",
            details={"alert_id": str(row.alert_id), "external_alert_id": row.external_alert_id},
        ) from None


def _mark_reset(ctx: ActionContext, local_id: uuid.UUID | None, uid: str) -> ResetAlertOutput:
    if local_id is None:
        return ResetAlertOutput(acknowledged=True, alert_id=uid)
    # Only after NinjaOne accepted: the mirror never claims a reset that did not happen.
    with ctx.session() as session:
        session.execute(
            update(RmmAlert)
            .where(RmmAlert.tenant == ctx.tenant_id, RmmAlert.alert_id == local_id)
            .values(status="acknowledged", updated_at=ctx.now())
        )
    return ResetAlertOutput(acknowledged=True, alert_id=str(local_id))


def reset_alert(inp: AlertInput, ctx: ActionContext) -> ResetAlertOutput:
    """Reset (acknowledge) the alert at NinjaOne, then mark the local mirror."""
    local_id, uid = _alert_to_reset(ctx, inp)
    with client_for(ctx) as client:
        client.reset_alert(uid)
    return _mark_reset(ctx, local_id, uid)


def reconcile_reset_alert(inp: AlertInput, ctx: ActionContext) -> ResetAlertOutput | NotApplied:
    """The read-back after a reset whose answer was lost (a 5xx, a timeout, a dead worker).

    ``GET /v2/alerts`` lists every active alert: one no longer listed was reset
    (NinjaOne has no "reset" history to ask); one still listed was not.
    """
    local_id, uid = _alert_to_reset(ctx, inp)
    with client_for(ctx) as client:
        active = {alert.uid for alert in client.list_alerts()}
    if uid in active:
        return NotApplied(f"alert {uid} is still active at NinjaOne")
    return _mark_reset(ctx, local_id, uid)


# -- specs --------------------------------------------------------------------------


def _ui(label: str, description: str) -> ActionUI:
    return ActionUI(label=label, description=description, category=CATEGORY, icon=ICON)


FIND_DEVICES = ActionSpec(
    id="ninjaone.devices.find",
    version=1,
    input_model=FindDevicesInput,
    output_model=FindDevicesOutput,
    handler=find_devices,
    side_effectful=False,
    ui=_ui("Find devices", "Find NinjaOne devices in the local mirror or live."),
)
SYNC_DEVICE = ActionSpec(
    id="ninjaone.devices.sync",
    version=1,
    input_model=DeviceInput,
    output_model=SyncDeviceOutput,
    handler=sync_device,
    side_effectful=True,
    ui=_ui("Sync device", "Fetch a device from NinjaOne and update its local asset."),
)
REBOOT_DEVICE = ActionSpec(
    id="ninjaone.devices.reboot",
    version=1,
    input_model=RebootDeviceInput,
    output_model=RebootDeviceOutput,
    handler=reboot_device,
    side_effectful=True,
    ui=_ui("Reboot device", "Reboot a NinjaOne device (normal or forced)."),
)
SCRIPTING_OPTIONS = ActionSpec(
    id="ninjaone.devices.scripting_options",
    version=1,
    input_model=DeviceInput,
    output_model=ScriptingOptionsOutput,
    handler=scripting_options,
    side_effectful=False,
    ui=_ui("List runnable scripts", "Scripts and built-in actions a device can run."),
)
RUN_SCRIPT = ActionSpec(
    id="ninjaone.devices.run_script",
    version=1,
    input_model=RunScriptInput,
    output_model=RunScriptOutput,
    handler=run_script,
    check=check_run_script,
    side_effectful=True,
    ui=_ui(
        "Run script",
        "Run a script or built-in action on a device, optionally waiting for its output.",
    ),
)
LIST_ACTIVE_ALERTS = ActionSpec(
    id="ninjaone.alerts.list_active",
    version=1,
    input_model=ListActiveAlertsInput,
    output_model=ListAlertsOutput,
    handler=list_active_alerts,
    side_effectful=False,
    ui=_ui("List active alerts", "Active NinjaOne alerts, newest first."),
)
GET_ALERT = ActionSpec(
    id="ninjaone.alerts.get",
    version=1,
    input_model=AlertInput,
    output_model=GetAlertOutput,
    handler=get_alert,
    side_effectful=False,
    ui=_ui("Get alert", "One NinjaOne alert by its id."),
)
RESET_ALERT = ActionSpec(
    id="ninjaone.alerts.reset",
    version=1,
    input_model=AlertInput,
    output_model=ResetAlertOutput,
    handler=reset_alert,
    reconcile=reconcile_reset_alert,
    side_effectful=True,
    ui=_ui("Acknowledge alert", "Reset a NinjaOne alert and mark it acknowledged locally."),
)

ACTIONS: tuple[ActionSpec[Any, Any], ...] = (
    FIND_DEVICES,
    SYNC_DEVICE,
    REBOOT_DEVICE,
    SCRIPTING_OPTIONS,
    RUN_SCRIPT,
    LIST_ACTIVE_ALERTS,
    GET_ALERT,
    RESET_ALERT,
)


def register_actions(actions: ActionRegistry) -> None:
    """Register the eight NinjaOne actions."""
    for spec in ACTIONS:
        actions.register(spec)
