"""An incident report's remediations: list them, approve or reject the unapproved ones.

Approval and rejection act on every remediation still ``unapproved``
(Huntress's bulk routes; there is no per-remediation write). Approval is
idempotent at Huntress and has a read-back (:func:`reconcile_approve_remediations`):
nothing left unapproved means it happened. Rejection has none: a report with
nothing unapproved reads the same whether or not the rejection, and its
comment to the SOC, arrived, so an unanswered rejection ends ``OUTCOME_UNKNOWN``.
"""

from __future__ import annotations

from actionkit.context import ActionContext, NotApplied
from actionkit.errors import Conflict
from catalog.rmm import text_or_none
from integrations.huntress.connection import client_for
from integrations.huntress.models import (
    ApproveRemediationsOutput,
    IncidentInput,
    ListRemediationsInput,
    ListRemediationsOutput,
    RejectRemediationsInput,
    RejectRemediationsOutput,
    WireIncidentReport,
    embedded_remediations,
    remediation_of,
    unapproved_in,
)
from integrations.huntress.state import refused_in_state, unapproved_remediations

SENT_RULE = 'the report status must be "sent"'


def list_remediations(inp: ListRemediationsInput, ctx: ActionContext) -> ListRemediationsOutput:
    """The report's remediations in the statuses and types given, newest first."""
    with client_for(ctx) as client:
        found = client.remediations(
            inp.incident_id, limit=inp.limit, statuses=list(inp.statuses), types=list(inp.types)
        )
    remediations = [remediation_of(r) for r in found]
    return ListRemediationsOutput(
        incident_id=inp.incident_id, remediations=remediations, count=len(remediations)
    )


def _approved(
    incident_id: int, report: WireIncidentReport | None, unapproved: int | None = None
) -> ApproveRemediationsOutput:
    total, items, has_more = (None, [], True) if report is None else embedded_remediations(report)
    if unapproved is None and not has_more:
        unapproved = unapproved_in(items)
    return ApproveRemediationsOutput(
        approved=True,
        incident_id=incident_id,
        status=None if report is None else text_or_none(report.status),
        remediation_count=total,
        unapproved_count=unapproved,
    )


def approve_remediations(inp: IncidentInput, ctx: ActionContext) -> ApproveRemediationsOutput:
    """Approve every unapproved remediation of the report (Huntress runs the assisted ones)."""
    with client_for(ctx) as client:
        try:
            report = client.approve_remediations(inp.incident_id)
        except Conflict as refusal:
            raise refused_in_state(
                client,
                refusal,
                inp.incident_id,
                doing="have its remediations approved",
                rule=SENT_RULE,
            ) from None
    return _approved(inp.incident_id, report)


def reconcile_approve_remediations(
    inp: IncidentInput, ctx: ActionContext
) -> ApproveRemediationsOutput | NotApplied:
    """The read-back after an approval whose answer proved nothing: is anything unapproved?"""
    with client_for(ctx) as client:
        report = client.incident_report(inp.incident_id)
        pending = unapproved_remediations(client, report)
    if pending:
        return NotApplied(f"{pending} remediations of incident report {inp.incident_id} unapproved")
    return _approved(inp.incident_id, report, unapproved=0)


def reject_remediations(
    inp: RejectRemediationsInput, ctx: ActionContext
) -> RejectRemediationsOutput:
    """Reject every unapproved remediation; Huntress sends the report back to its SOC."""
    body = inp.model_dump(exclude={"incident_id"}, exclude_none=True)
    with client_for(ctx) as client:
        try:
            client.reject_remediations(inp.incident_id, body)
        except Conflict as refusal:
            raise refused_in_state(
                client,
                refusal,
                inp.incident_id,
                doing="have its remediations rejected",
                rule=SENT_RULE,
            ) from None
    return RejectRemediationsOutput(rejected=True, incident_id=inp.incident_id)
