"""NinjaOne alerts: list the active ones, get one, reset one (and read a lost reset back)."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from actionkit.context import ActionContext, NotApplied
from actionkit.errors import ActionError, NotFound
from integrations.ninjaone.connection import (
    asset_ids,
    client_for,
    tenant_connection,
    text_or_none,
)
from integrations.ninjaone.models import (
    Alert,
    AlertInput,
    GetAlertOutput,
    ListActiveAlertsInput,
    ListAlertsOutput,
    ResetAlertOutput,
    WireAlert,
    epoch_seconds,
)
from store.models import RmmAlert


def _local_alert(row: RmmAlert) -> Alert:
    source = row.source_data or {}
    return Alert(
        alert_id=str(row.alert_id),
        external_alert_id=row.external_alert_id,
        status=row.status,
        severity=row.severity,
        priority=row.priority,
        title=text_or_none(source.get("sourceName"))
        or text_or_none(source.get("subject"))
        or row.activity_type,
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
    assets = asset_ids(ctx, device_ids)
    return [
        _live_alert(a, None if a.device_id is None else assets.get(str(a.device_id)))
        for a in alerts
    ]


def list_active_alerts(inp: ListActiveAlertsInput, ctx: ActionContext) -> ListAlertsOutput:
    """Active alerts, newest first: the local mirror, or NinjaOne with ``live``."""
    integration_id = tenant_connection(ctx).integration_id
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
    return ListAlertsOutput(
        alerts=alerts, count=len(alerts), source="ninjaone" if inp.live else "local"
    )


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
    integration_id = tenant_connection(ctx).integration_id
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
    integration_id = tenant_connection(ctx).integration_id
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
    # Only after NinjaOne accepted, and in the transaction that records the step
    # SUCCEEDED: the mirror never claims a reset the ledger does not.
    tenant, at = ctx.tenant_id, ctx.now()

    def mark(session: Session) -> None:
        session.execute(
            update(RmmAlert)
            .where(RmmAlert.tenant == tenant, RmmAlert.alert_id == local_id)
            .values(status="acknowledged", updated_at=at)
        )

    ctx.on_success(mark)
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
