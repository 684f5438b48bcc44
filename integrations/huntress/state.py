"""What a refused write says about its incident report: its status, its unapproved remediations.

Huntress refuses a resolution with 409 or 422 and an approval or rejection
with 409 when the report is not ``sent`` or (resolution) a remediation is
not approved, without saying which. A refusal proves nothing changed, so
one read after it (``GET`` the report; its first 10 remediations come
embedded, and only when there are more, one ``GET`` of the unapproved ones)
tells the workflow what stands in the way.
"""

from __future__ import annotations

from actionkit.errors import ActionFailure, Conflict
from catalog.rmm import text_or_none
from integrations.huntress.client import HuntressClient
from integrations.huntress.models import (
    PAGE_MAX,
    WireIncidentReport,
    embedded_remediations,
    unapproved_in,
)


def unapproved_remediations(client: HuntressClient, report: WireIncidentReport) -> int:
    """How many of the report's remediations are ``unapproved`` (counted up to 500)."""
    _, items, has_more = embedded_remediations(report)
    if not has_more:
        return unapproved_in(items)
    return len(client.remediations(report.id, limit=PAGE_MAX, statuses=["unapproved"]))


def refused_in_state(
    client: HuntressClient,
    refusal: Conflict,
    incident_id: int,
    *,
    doing: str,
    rule: str,
    advice: str | None = None,
) -> Conflict:
    """``refusal`` (a 409/422) reworded: what the step could not do, why, and the report's state.

    ``doing``: e.g. "be resolved"; ``rule``: what Huntress requires;
    ``advice``: what to do when the report is ``sent`` and remediations wait
    for approval. When the read fails too, the refusal is reported without
    the state.
    """
    said = f" ({refusal.vendor.status}: {refusal.vendor.message})" if refusal.vendor else ""
    details = {**(refusal.details or {}), "incident_id": incident_id}
    message = f"Huntress incident report {incident_id} cannot {doing}: {rule}{said}"
    try:
        report = client.incident_report(incident_id)
        status = text_or_none(report.status)
        pending = unapproved_remediations(client, report)
    except ActionFailure:
        return Conflict(message, vendor=refusal.vendor, details=details)
    plural = "" if pending == 1 else "s"
    message += (
        f"; it is {status or 'of unknown status'} with {pending} unapproved remediation{plural}"
    )
    if advice is not None and status == "sent" and pending:
        message += f"; {advice}"
    details.update(status=status, unapproved_remediations=pending)
    return Conflict(message, vendor=refusal.vendor, details=details)
