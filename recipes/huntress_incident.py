"""Huntress incident response: enrich, ticket, approve the remediations, resolve, tell Teams.

From a Huntress incident report id:

1. ``huntress_incident.get_incident`` (``huntress.incidents.get``), then its
   host ``huntress_incident.get_agent`` (``huntress.agents.get``) and
   customer ``huntress_incident.get_organization``
   (``huntress.organizations.list``, the report's organization picked out);
2. ``huntress_incident.open_ticket`` (``tickets.create``): one ticket per
   report (dedupe key ``huntress-incident:<id>``) with that enrichment in its
   description, linked to the report, its priority the report's severity
   (critical: critical, high: high, low: medium);
3. if the report is still ``sent`` (waiting for the partner):
   ``huntress_incident.list_remediations`` (the unapproved ones),
   ``huntress_incident.approve_remediations``
   (``huntress.remediations.approve``, when there are any) and
   ``huntress_incident.resolve`` (``huntress.incidents.resolve``);
   a report in any other status (closed, dismissed, ...) is left as it is;
4. ``huntress_incident.note_result`` (``tickets.add_note``): what was
   approved and resolved;
5. ``huntress_incident.post`` (``teams.post_to_channel``): the summary, to
   the on-call channel.

The ticket stays open for a technician to follow up (a reset password, a
reimaged host); it is linked without ``sync_close``, since the recipe
resolves the report itself.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from actionkit.inputs import StrictInput
from recipes.common import SANDBOX_CHANNEL_ID, ChannelId, Text, excerpt
from recipes.runner import Recipe, RecipeRun

PRIORITY_OF_SEVERITY = {"critical": "critical", "high": "high", "low": "medium"}
ORGANIZATIONS_LIMIT = 500


class HuntressIncidentInput(StrictInput):
    """The Huntress incident report to respond to."""

    incident_id: int = Field(ge=1, le=2_147_483_647, description="The Huntress incident report id.")
    channel_id: ChannelId = SANDBOX_CHANNEL_ID
    board: Text | None = Field(default=None, description="The ticket's board, if any.")


def _enrichment(incident: dict[str, Any], agent: dict[str, Any], org: dict[str, Any]) -> str:
    lines = [
        f"Huntress incident report {incident['incident_id']} "
        f"({incident.get('severity') or 'unknown'} severity, {incident.get('status')}).",
        f"Summary: {incident.get('summary') or '(none)'}",
        f"Indicators: {', '.join(incident.get('indicator_types') or []) or '(none)'}",
    ]
    if agent:
        lines.append(
            f"Host: {agent.get('hostname')} ({agent.get('os') or agent.get('platform')}, "
            f"{agent.get('ipv4_address') or 'no address'}), Huntress agent {agent['agent_id']}, "
            f"last seen {agent.get('last_callback_at') or 'never'}."
        )
    if org:
        lines.append(f"Organization: {org.get('name')} (Huntress {org['organization_id']}).")
    return "\n".join(lines)


def run(run: RecipeRun, inp: HuntressIncidentInput) -> dict[str, Any]:
    """The steps (module doc); the outcome: the ticket, what was approved, whether resolved."""
    got = run.step(
        "huntress_incident.get_incident", "huntress.incidents.get", {"incident_id": inp.incident_id}
    )
    incident: dict[str, Any] = got["incident"]
    agent: dict[str, Any] = {}
    if incident.get("agent_id") is not None:
        agent = run.step(
            "huntress_incident.get_agent",
            "huntress.agents.get",
            {"agent_id": incident["agent_id"]},
        )["agent"]
    org: dict[str, Any] = {}
    org_id = incident.get("organization_id") or agent.get("organization_id")
    if org_id is not None:
        listed = run.step(
            "huntress_incident.get_organization",
            "huntress.organizations.list",
            {"limit": ORGANIZATIONS_LIMIT},
        )
        org = next((o for o in listed["organizations"] if o["organization_id"] == org_id), {})

    host = agent.get("hostname") or f"agent {incident.get('agent_id')}"
    title = incident.get("subject") or f"Huntress incident {inp.incident_id} on {host}"
    ticket_input: dict[str, Any] = {
        "title": title,
        "description": _enrichment(incident, agent, org),
        "priority": PRIORITY_OF_SEVERITY.get(str(incident.get("severity")), "high"),
        "dedupe_key": f"huntress-incident:{inp.incident_id}",
        "incident": {"incident_id": inp.incident_id},
    }
    if inp.board is not None:
        ticket_input["board"] = inp.board
    ticket = run.step("huntress_incident.open_ticket", "tickets.create", ticket_input)["ticket"]
    number = ticket["ticket_number"]

    approved: list[str] = []
    resolved = False
    status = incident.get("status")
    if status == "sent":
        pending = run.step(
            "huntress_incident.list_remediations",
            "huntress.remediations.list",
            {"incident_id": inp.incident_id, "statuses": ["unapproved"], "limit": 500},
        )
        approved = [
            " ".join(filter(None, [r.get("action"), *r.get("parameters", [])]))
            for r in pending["remediations"]
        ]
        if approved:
            run.step(
                "huntress_incident.approve_remediations",
                "huntress.remediations.approve",
                {"incident_id": inp.incident_id},
            )
        done = run.step(
            "huntress_incident.resolve",
            "huntress.incidents.resolve",
            {"incident_id": inp.incident_id},
        )
        resolved = bool(done.get("resolved"))
        status = done.get("status", status)
        result = (
            f"Approved {len(approved)} remediation(s): {'; '.join(approved)}. " if approved else ""
        ) + f"Resolved the incident report at Huntress (now {status})."
    else:
        result = f"The incident report is {status} at Huntress: nothing approved or resolved."
    run.step(
        "huntress_incident.note_result",
        "tickets.add_note",
        {"ticket_id": ticket["ticket_id"], "text": result, "internal": True},
    )
    run.step(
        "huntress_incident.post",
        "teams.post_to_channel",
        {
            "channel_id": inp.channel_id,
            "message": excerpt(f"{number} {title}: {result}", 2000),
        },
    )
    return {
        "ticket_id": ticket["ticket_id"],
        "ticket_number": number,
        "host": agent.get("hostname"),
        "organization": org.get("name"),
        "approved_remediations": len(approved),
        "resolved": resolved,
        "incident_status": status,
        "posted": True,
    }


RECIPE = Recipe(
    name="huntress-incident",
    summary="Huntress incident response: read the report, its host and organization; ticket "
    "with that enrichment; approve the remediations, resolve the report, note it, post to "
    "Teams.",
    input_model=HuntressIncidentInput,
    run=run,
)
