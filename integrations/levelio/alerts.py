"""Level alerts: list the active ones (local mirror or live), resolve one.

The local mirror is ``rmm_alerts`` of the tenant's Level connection, kept
by Level's webhooks (``webhooks.py``); a resolution here marks its row
``resolved`` only together with the step's success (``ctx.on_success``).
"""

from __future__ import annotations

from actionkit.context import ActionContext
from catalog import rmm
from integrations.levelio.client import ALERTS_PATH
from integrations.levelio.connection import client_for, tenant_connection
from integrations.levelio.models import (
    Alert,
    ListActiveAlertsInput,
    ListAlertsOutput,
    ResolveAlertInput,
    ResolveAlertOutput,
    alert_from,
)
from store.models import RmmAlert


def _local_alert(row: RmmAlert) -> Alert:
    # source_data holds the alert as Level last sent it; the columns are the mirror's own.
    source = row.source_data or {}
    return Alert(
        alert_id=row.external_alert_id,
        device_id=row.external_device_id,
        device_hostname=rmm.text_or_none(source.get("device_hostname")),
        name=rmm.text_or_none(source.get("name")) or row.activity_type,
        description=rmm.text_or_none(source.get("description")) or row.message,
        severity=row.severity,
        is_resolved=row.status == "resolved",
        started_at=row.triggered_at,
        resolved_at=row.resolved_at,
    )


def list_active_alerts(inp: ListActiveAlertsInput, ctx: ActionContext) -> ListAlertsOutput:
    """Active alerts: the mirror's newest first, or Level's (``status=active``) with ``live``."""
    if inp.live:
        with client_for(ctx) as client:
            items = client.collect(
                ALERTS_PATH,
                limit=inp.limit,
                params={"status": "active", "device_id": inp.device_id},
            )
        alerts = [alert_from(item) for item in items]
    else:
        integration_id = tenant_connection(ctx).integration_id
        query = rmm.active_mirrored_alerts(
            ctx.tenant_id, integration_id, device_id=inp.device_id, limit=inp.limit
        )
        with ctx.session() as session:
            alerts = [_local_alert(row) for row in session.scalars(query)]
    return ListAlertsOutput(alerts=alerts, count=len(alerts))


def resolve_alert(inp: ResolveAlertInput, ctx: ActionContext) -> ResolveAlertOutput:
    """``POST /v2/alerts/{id}/resolve``, then the mirrored row (if any) is marked resolved.

    The mark is registered with ``ctx.on_success``: it commits in the
    transaction that records the step SUCCEEDED, and never when Level
    refused (the request raised before it was registered).
    """
    integration_id = tenant_connection(ctx).integration_id
    with client_for(ctx) as client:
        client.resolve_alert(inp.alert_id)
    rmm.mark_mirrored_alert_on_success(ctx, integration_id, inp.alert_id, "resolved")
    return ResolveAlertOutput(resolved=True, alert_id=inp.alert_id)
