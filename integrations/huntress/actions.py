"""The Huntress actions: their specs, in catalog order.

Handlers are plain functions ``(input, ctx) -> output``, one module per
noun: incident reports (``incidents.py``), their remediations
(``remediations.py``), the account with its organizations and agents
(``account.py``). The writes that have a read-back declare it as
``reconcile``.
"""

from __future__ import annotations

from typing import Any

from actionkit.spec import ActionSpec, ActionUI
from catalog.actions import ActionRegistry
from integrations.huntress.account import get_account, get_agent, list_organizations
from integrations.huntress.connection import LABEL
from integrations.huntress.incidents import (
    find_incidents,
    get_incident,
    reconcile_resolve_incident,
    resolve_incident,
)
from integrations.huntress.models import (
    AccountInput,
    AgentInput,
    ApproveRemediationsOutput,
    FindIncidentsInput,
    FindIncidentsOutput,
    GetAccountOutput,
    GetAgentOutput,
    GetIncidentOutput,
    IncidentInput,
    ListOrganizationsInput,
    ListOrganizationsOutput,
    ListRemediationsInput,
    ListRemediationsOutput,
    RejectRemediationsInput,
    RejectRemediationsOutput,
    ResolveIncidentInput,
    ResolveIncidentOutput,
)
from integrations.huntress.remediations import (
    approve_remediations,
    list_remediations,
    reconcile_approve_remediations,
    reject_remediations,
)

__all__ = ["ACTIONS", "FIND_INCIDENTS", "register_actions"]

ICON = "huntress"


def _ui(label: str, description: str) -> ActionUI:
    return ActionUI(label=label, description=description, category=LABEL, icon=ICON)


FIND_INCIDENTS = ActionSpec(
    id="huntress.incidents.find",
    version=1,
    input_model=FindIncidentsInput,
    output_model=FindIncidentsOutput,
    handler=find_incidents,
    side_effectful=False,
    ui=_ui(
        "Find incidents",
        "Find Huntress incident reports by status, severity, platform, organization or agent.",
    ),
)
GET_INCIDENT = ActionSpec(
    id="huntress.incidents.get",
    version=1,
    input_model=IncidentInput,
    output_model=GetIncidentOutput,
    handler=get_incident,
    side_effectful=False,
    ui=_ui("Get incident", "One Huntress incident report by id, with its full write-up."),
)
RESOLVE_INCIDENT = ActionSpec(
    id="huntress.incidents.resolve",
    version=1,
    input_model=ResolveIncidentInput,
    output_model=ResolveIncidentOutput,
    handler=resolve_incident,
    reconcile=reconcile_resolve_incident,
    side_effectful=True,
    ui=_ui(
        "Resolve incident",
        "Resolve a sent Huntress incident report whose remediations are all approved, "
        "optionally approving the pending ones first.",
    ),
)
LIST_REMEDIATIONS = ActionSpec(
    id="huntress.remediations.list",
    version=1,
    input_model=ListRemediationsInput,
    output_model=ListRemediationsOutput,
    handler=list_remediations,
    side_effectful=False,
    ui=_ui(
        "List remediations",
        "The remediation steps of a Huntress incident report, with their approval status.",
    ),
)
APPROVE_REMEDIATIONS = ActionSpec(
    id="huntress.remediations.approve",
    version=1,
    input_model=IncidentInput,
    output_model=ApproveRemediationsOutput,
    handler=approve_remediations,
    reconcile=reconcile_approve_remediations,
    side_effectful=True,
    ui=_ui(
        "Approve remediations",
        "Approve every unapproved remediation of a sent Huntress incident report; Huntress "
        "runs the assisted ones at once.",
    ),
)
REJECT_REMEDIATIONS = ActionSpec(
    id="huntress.remediations.reject",
    version=1,
    input_model=RejectRemediationsInput,
    output_model=RejectRemediationsOutput,
    handler=reject_remediations,
    side_effectful=True,
    ui=_ui(
        "Reject remediations",
        "Reject every unapproved remediation of a sent Huntress incident report with a "
        "comment, sending the report back to the Huntress SOC.",
    ),
)
LIST_ORGANIZATIONS = ActionSpec(
    id="huntress.organizations.list",
    version=1,
    input_model=ListOrganizationsInput,
    output_model=ListOrganizationsOutput,
    handler=list_organizations,
    side_effectful=False,
    ui=_ui("List organizations", "The Huntress organizations (customers), filtered by name."),
)
GET_AGENT = ActionSpec(
    id="huntress.agents.get",
    version=1,
    input_model=AgentInput,
    output_model=GetAgentOutput,
    handler=get_agent,
    side_effectful=False,
    ui=_ui("Get agent", "One Huntress agent (a protected host) by id."),
)
GET_ACCOUNT = ActionSpec(
    id="huntress.account.get",
    version=1,
    input_model=AccountInput,
    output_model=GetAccountOutput,
    handler=get_account,
    side_effectful=False,
    ui=_ui("Get account", "The Huntress account the tenant's API key belongs to."),
)

ACTIONS: tuple[ActionSpec[Any, Any], ...] = (
    FIND_INCIDENTS,
    GET_INCIDENT,
    RESOLVE_INCIDENT,
    LIST_REMEDIATIONS,
    APPROVE_REMEDIATIONS,
    REJECT_REMEDIATIONS,
    LIST_ORGANIZATIONS,
    GET_AGENT,
    GET_ACCOUNT,
)


def register_actions(actions: ActionRegistry) -> None:
    """Register the Huntress actions."""
    for spec in ACTIONS:
        actions.register(spec)
