"""Huntress incident reports: find, get, resolve (optionally approving first), and the read-back.

Resolving with ``approve_remediations: true`` is one step of two requests:
``POST .../remediations/bulk_approval``, then ``POST .../resolution``. It is
exactly once in effect because of what each request is:

- the approval is idempotent at Huntress: it approves whatever is still
  unapproved, and with nothing left it changes nothing (201 unchanged). So
  sending it again is harmless, whichever way an earlier attempt ended;
- the resolution is never sent twice blindly. It is the step's last
  request; a definite refusal (403, 404, 409, 422) ends the step, and a 429
  or a connection refused before sending proves it did not happen. An
  answer that proves nothing (a 5xx, a timeout, a dropped connection, a
  worker lost after sending) is settled by the read-back,
  :func:`reconcile_resolve_incident`: a report now ``closed`` was resolved
  (the step succeeds without sending again); one still open was not, and the
  step may run again: approval (a no-op by now) then resolution. When the
  read-back cannot tell, the step ends ``OUTCOME_UNKNOWN``.

So a failure between the two requests (the approval done, the resolution
not sent or not known) repeats only the approval, which changes nothing,
and the resolution reaches Huntress once. Huntress guards it too: it
resolves only a ``sent`` report, so a resolution that did land makes any
later one a 422 refusal, never a second effect. A report someone else
closed in the meantime reads back as resolved: the state the step asked for.
"""

from __future__ import annotations

from actionkit.context import ActionContext, NotApplied
from actionkit.errors import Conflict
from catalog.rmm import text_or_none
from integrations.huntress.connection import client_for
from integrations.huntress.models import (
    FindIncidentsInput,
    FindIncidentsOutput,
    GetIncidentOutput,
    IncidentInput,
    ResolveIncidentInput,
    ResolveIncidentOutput,
    incident_of,
)
from integrations.huntress.state import refused_in_state

CLOSED = "closed"
RESOLVE_RULE = 'every remediation must be approved and the report status must be "sent"'
APPROVE_FIRST = (
    "approve them first (huntress.remediations.approve), or resolve with approve_remediations: true"
)


def find_incidents(inp: FindIncidentsInput, ctx: ActionContext) -> FindIncidentsOutput:
    """Incident reports matching every filter given, most recently updated first."""
    filters = inp.model_dump(exclude={"limit"}, exclude_none=True)
    with client_for(ctx) as client:
        reports = client.incident_reports(filters, inp.limit)
    incidents = [incident_of(r) for r in reports]
    return FindIncidentsOutput(incidents=incidents, count=len(incidents))


def get_incident(inp: IncidentInput, ctx: ActionContext) -> GetIncidentOutput:
    """One incident report, with its full write-up."""
    with client_for(ctx) as client:
        report = client.incident_report(inp.incident_id)
    return GetIncidentOutput(incident=incident_of(report), body=text_or_none(report.body))


def resolve_incident(inp: ResolveIncidentInput, ctx: ActionContext) -> ResolveIncidentOutput:
    """Resolve the report at Huntress, approving its pending remediations first if asked."""
    with client_for(ctx) as client:
        try:
            if inp.approve_remediations:
                client.approve_remediations(inp.incident_id)
            report = client.resolve(inp.incident_id)
        except Conflict as refusal:
            raise refused_in_state(
                client,
                refusal,
                inp.incident_id,
                doing="be resolved",
                rule=RESOLVE_RULE,
                advice=None if inp.approve_remediations else APPROVE_FIRST,
            ) from None
    status = text_or_none(report.status) if report is not None else None
    return ResolveIncidentOutput(
        resolved=True,
        incident_id=inp.incident_id,
        status=status or CLOSED,
        remediations_approved=inp.approve_remediations,
    )


def reconcile_resolve_incident(
    inp: ResolveIncidentInput, ctx: ActionContext
) -> ResolveIncidentOutput | NotApplied:
    """The read-back after a resolution whose answer proved nothing: is the report closed?"""
    with client_for(ctx) as client:
        report = client.incident_report(inp.incident_id)
    status = text_or_none(report.status)
    if status != CLOSED:
        return NotApplied(
            f"Huntress incident report {inp.incident_id} is {status or 'of unknown status'}, "
            "not closed"
        )
    return ResolveIncidentOutput(
        resolved=True,
        incident_id=inp.incident_id,
        status=CLOSED,
        remediations_approved=inp.approve_remediations,
    )
