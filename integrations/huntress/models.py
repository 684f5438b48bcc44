"""Huntress models: action inputs and outputs (what workflows see) and the vendor's wire shapes.

Inputs forbid unknown fields and accept exactly what their published JSON
Schema allows (``actionkit.inputs``): ids are integers (Huntress's ids are
int32; the reference's string coercion is not carried over), and every
filter with an enum in the vendor's spec takes exactly that enum, so a value
Huntress would answer 400 for never leaves patchbay. Wire models ignore
fields they do not name and take any value in the ones they do; the views
at the end (``incident_of``, ...) turn a value of the wrong type into null.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from actionkit.inputs import NotBlank, StrictInput, StripBlank
from catalog.rmm import instant_or_none, integer_or_none, text_or_none

# Huntress's ids are int32 (every ``{id}`` path parameter in its spec).
INT32_MAX = 2_147_483_647
# The spec's bounds of ``limit`` on every list: 1 to 500.
PAGE_MAX = 500

IncidentStatus = Literal[
    "sent", "closed", "dismissed", "auto_remediating", "deleting", "partner_dismissed"
]
Severity = Literal["low", "high", "critical"]
IncidentPlatform = Literal[
    "windows", "darwin", "microsoft_365", "google", "linux", "email_security", "other"
]
IndicatorType = Literal[
    "footholds",
    "monitored_files",
    "ransomware_canaries",
    "antivirus_detections",
    "process_detections",
    "managed_identity",
    "mde_detections",
    "siem_detections",
    "favicon_detections",
    "behavioral_detections",
    "email_security_detections",
    "app_control",
    "ai_misuse",
]
RemediationStatus = Literal["unapproved", "approved", "completed", "failed", "cancelled"]
RemediationType = Literal["assisted", "manual", "containment"]

Text = Annotated[str, StringConstraints(min_length=1, max_length=255), NotBlank, StripBlank]
IncidentId = Annotated[
    int,
    Field(
        ge=1,
        le=INT32_MAX,
        description="The Huntress incident report id (incident_id in incidents.find).",
    ),
]


# -- inputs -------------------------------------------------------------------------


class FindIncidentsInput(StrictInput):
    """Which incident reports to find: every filter given must match; newest update first."""

    status: IncidentStatus | None = Field(
        default=None,
        description=(
            "Only reports in this status: sent (waiting for the partner), closed, dismissed, "
            "auto_remediating, deleting or partner_dismissed."
        ),
    )
    severity: Severity | None = Field(
        default=None, description="Only reports of this severity: low, high or critical."
    )
    platform: IncidentPlatform | None = Field(
        default=None,
        description=(
            "Only reports from this platform: windows, darwin, microsoft_365, google, linux, "
            "email_security or other."
        ),
    )
    indicator_type: IndicatorType | None = Field(
        default=None,
        description=(
            "Only reports with this kind of indicator, e.g. footholds or ransomware_canaries."
        ),
    )
    organization_id: int | None = Field(
        default=None,
        ge=1,
        le=INT32_MAX,
        description=(
            "Only reports of this Huntress organization (organization_id in organizations.list)."
        ),
    )
    agent_id: int | None = Field(
        default=None,
        ge=1,
        le=INT32_MAX,
        description="Only reports about this Huntress agent (one host).",
    )
    limit: int = Field(
        default=50,
        ge=1,
        le=PAGE_MAX,
        description="Return at most this many (1 to 500; 50 by default).",
    )


class IncidentInput(StrictInput):
    """The one Huntress incident report to act on."""

    incident_id: IncidentId


class ResolveIncidentInput(IncidentInput):
    """The incident report to resolve, and whether to approve its pending remediations first."""

    approve_remediations: bool = Field(
        default=False,
        description=(
            "Approve every unapproved remediation first (Huntress then runs the assisted "
            "ones), then resolve. False: resolve only; Huntress refuses while any "
            "remediation is unapproved."
        ),
    )


class ListRemediationsInput(IncidentInput):
    """Whose remediations to list, and which of them."""

    statuses: list[RemediationStatus] = Field(
        default_factory=list,
        max_length=5,
        description=(
            "Only remediations in one of these statuses (unapproved, approved, completed, "
            "failed, cancelled); empty lists every status."
        ),
    )
    types: list[RemediationType] = Field(
        default_factory=list,
        max_length=3,
        description="Only remediations of one of these types (assisted, manual, containment).",
    )
    limit: int = Field(
        default=100,
        ge=1,
        le=PAGE_MAX,
        description="Return at most this many (1 to 500; 100 by default).",
    )


class RejectRemediationsInput(IncidentInput):
    """Why the report's unapproved remediations are rejected, and who the SOC may contact."""

    comment: Annotated[
        str, StringConstraints(min_length=1, max_length=4000), NotBlank, StripBlank
    ] = Field(
        description=(
            "Why the remediation plan is rejected; the Huntress SOC reads it to fix the plan "
            "and re-issue the report."
        )
    )
    useful: bool = Field(description="Whether the remediation plan was useful all the same.")
    name: Text | None = Field(
        default=None,
        description="Who rejects it; Huntress falls back to the user of the API key.",
    )
    phone_number: Text | None = Field(
        default=None,
        description="A phone number the SOC may call; Huntress falls back to the key's user's.",
    )
    email: Text | None = Field(
        default=None,
        description=(
            "An email address the SOC may write to; Huntress falls back to the key's user's."
        ),
    )


class ListOrganizationsInput(StrictInput):
    """Which organizations (the MSP's customers in Huntress) to list."""

    query: Text | None = Field(
        default=None, description="Keep organizations whose name contains this text (any case)."
    )
    limit: int = Field(
        default=100,
        ge=1,
        le=PAGE_MAX,
        description="Return at most this many (1 to 500; 100 by default).",
    )


class AgentInput(StrictInput):
    """The one Huntress agent to read."""

    agent_id: int = Field(
        ge=1, le=INT32_MAX, description="The Huntress agent id (agent_id on an incident)."
    )


class AccountInput(StrictInput):
    """Nothing: the account is the one the tenant's API key belongs to."""


# -- outputs ------------------------------------------------------------------------


class Incident(BaseModel):
    """One Huntress incident report."""

    incident_id: int = Field(description="The incident report's id in Huntress.")
    status: str | None = Field(
        description="Its status: sent, closed, dismissed, auto_remediating, deleting, ..."
    )
    severity: str | None = Field(description="Its severity: low, high or critical.")
    platform: str | None = Field(
        description="The platform it comes from: windows, darwin, microsoft_365, ..."
    )
    summary: str | None = Field(description="What happened, as the Huntress SOC analyst wrote it.")
    subject: str | None = Field(
        description="Huntress's one-line title, e.g. HIGH - Incident on HOST (Organization)."
    )
    organization_id: int | None = Field(description="The Huntress organization it belongs to.")
    agent_id: int | None = Field(description="The Huntress agent (host) it is about, if any.")
    indicator_types: list[str] = Field(
        description="The kinds of threat indicator found, e.g. footholds."
    )
    sent_at: datetime | None = Field(description="When the SOC sent the report to the partner.")
    closed_at: datetime | None = Field(description="When the report was closed, if it was.")
    updated_at: datetime | None = Field(description="When Huntress last updated the report.")


class FindIncidentsOutput(BaseModel):
    """The incident reports found."""

    incidents: list[Incident] = Field(
        description="Matching reports, most recently updated first, at most limit of them."
    )
    count: int = Field(description="How many reports were found (the length of incidents).")


class GetIncidentOutput(BaseModel):
    """One incident report and its full text."""

    incident: Incident = Field(description="The incident report as Huntress has it now.")
    body: str | None = Field(
        description="The report's full write-up (HTML, as Huntress renders it), if any."
    )


class ResolveIncidentOutput(BaseModel):
    """Huntress resolved the incident report."""

    resolved: bool = Field(description="Always true: Huntress accepted the resolution.")
    incident_id: int = Field(description="The incident report that was resolved.")
    status: str = Field(description="The report's status after resolving (closed).")
    remediations_approved: bool = Field(
        description="Whether this step approved the pending remediations first."
    )


class Remediation(BaseModel):
    """One remediation step of an incident report."""

    remediation_id: int = Field(description="The remediation's id in Huntress.")
    type: str | None = Field(description="Its type: assisted, manual or containment.")
    action: str | None = Field(description="What it does, e.g. Delete File.")
    status: str | None = Field(
        description="Its status: unapproved, approved, completed, failed or cancelled."
    )
    parameters: list[str] = Field(
        description="What it acts on, e.g. the file path to delete (none for manual ones)."
    )
    approved_at: datetime | None = Field(description="When it was approved, if it was.")
    approved_by: str | None = Field(description="Who approved it (name or email), if anyone.")
    completed_at: datetime | None = Field(description="When it was completed, if it was.")


class ListRemediationsOutput(BaseModel):
    """An incident report's remediations."""

    incident_id: int = Field(description="The incident report they belong to.")
    remediations: list[Remediation] = Field(
        description="The matching remediations, newest first, at most limit of them."
    )
    count: int = Field(description="How many were found (the length of remediations).")


class ApproveRemediationsOutput(BaseModel):
    """Huntress approved the report's unapproved remediations."""

    approved: bool = Field(description="Always true: Huntress accepted the bulk approval.")
    incident_id: int = Field(description="The incident report whose remediations were approved.")
    status: str | None = Field(description="The report's status after the approval (sent).")
    remediation_count: int | None = Field(
        description="How many remediations the report has in all, if Huntress said."
    )
    unapproved_count: int | None = Field(
        description=(
            "How many are still unapproved (0 unless some were added meanwhile); null when "
            "Huntress listed only the first 10 of more."
        )
    )


class RejectRemediationsOutput(BaseModel):
    """Huntress rejected the report's unapproved remediations and sent it back to the SOC."""

    rejected: bool = Field(description="Always true: Huntress accepted the bulk rejection.")
    incident_id: int = Field(description="The incident report whose remediations were rejected.")


class Organization(BaseModel):
    """One Huntress organization (a customer of the MSP)."""

    organization_id: int = Field(description="The organization's id in Huntress.")
    name: str | None = Field(description="The organization's name.")
    agents_count: int | None = Field(description="How many Huntress agents it has.")


class ListOrganizationsOutput(BaseModel):
    """The organizations found."""

    organizations: list[Organization] = Field(
        description="Matching organizations, in Huntress's order, at most limit of them."
    )
    count: int = Field(description="How many were found (the length of organizations).")


class Agent(BaseModel):
    """One Huntress agent (the Huntress software on one host)."""

    agent_id: int = Field(description="The agent's id in Huntress.")
    hostname: str | None = Field(description="The host's name.")
    platform: str | None = Field(description="The host's platform: windows, darwin or linux.")
    os: str | None = Field(description="The host's operating system, e.g. Windows 11 Pro.")
    version: str | None = Field(description="The Huntress agent's version.")
    organization_id: int | None = Field(description="The Huntress organization it belongs to.")
    last_callback_at: datetime | None = Field(description="When Huntress last heard from the host.")
    ipv4_address: str | None = Field(description="The host's internal IPv4 address.")


class GetAgentOutput(BaseModel):
    """The agent read from Huntress."""

    agent: Agent = Field(description="The agent as Huntress reports it now.")


class GetAccountOutput(BaseModel):
    """The Huntress account the tenant's API key belongs to."""

    account_id: int | None = Field(description="The account's id in Huntress.")
    name: str | None = Field(description="The account's display name.")
    subdomain: str | None = Field(description="The account's subdomain (<subdomain>.huntress.io).")


# -- wire -----------------------------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WireIncidentReport(_Wire):
    """An ``IncidentReport`` of the spec (list rows, ``{incident_report}``)."""

    id: int
    status: Any = None
    severity: Any = None
    platform: Any = None
    summary: Any = None
    subject: Any = None
    body: Any = None
    organization_id: Any = None
    agent_id: Any = None
    indicator_types: Any = None
    sent_at: Any = None
    closed_at: Any = None
    updated_at: Any = None
    remediations: Any = None


class WireRemediation(_Wire):
    """A ``Remediation`` of the spec."""

    id: int
    type: Any = None
    action: Any = None
    status: Any = None
    parameters: Any = None
    approved_at: Any = None
    approved_by: Any = None
    completed_at: Any = None


class WireOrganization(_Wire):
    """An ``Organization`` of the spec."""

    id: int
    name: Any = None
    agents_count: Any = None


class WireAgent(_Wire):
    """An ``Agent`` of the spec."""

    id: int
    hostname: Any = None
    platform: Any = None
    os: Any = None
    version: Any = None
    organization_id: Any = None
    last_callback_at: Any = None
    ipv4_address: Any = None


class WireAccount(_Wire):
    """An ``Account`` of the spec."""

    id: Any = None
    name: Any = None
    subdomain: Any = None
    status: Any = None


# -- wire to output -------------------------------------------------------------------


def incident_of(report: WireIncidentReport) -> Incident:
    """The workflow's view of a report (a field of the wrong type is null)."""
    kinds = report.indicator_types if isinstance(report.indicator_types, list) else []
    return Incident(
        incident_id=report.id,
        status=text_or_none(report.status),
        severity=text_or_none(report.severity),
        platform=text_or_none(report.platform),
        summary=text_or_none(report.summary),
        subject=text_or_none(report.subject),
        organization_id=integer_or_none(report.organization_id),
        agent_id=integer_or_none(report.agent_id),
        indicator_types=[k for k in kinds if isinstance(k, str)],
        sent_at=instant_or_none(report.sent_at),
        closed_at=instant_or_none(report.closed_at),
        updated_at=instant_or_none(report.updated_at),
    )


def _parameter(value: Any) -> str:
    """A remediation parameter as text: the spec says strings, its example shows objects."""
    if isinstance(value, dict):
        name, said = text_or_none(value.get("name")), text_or_none(value.get("description"))
        if name and said:
            return f"{name}: {said}"
        return said or name or json.dumps(value, sort_keys=True)
    return value if isinstance(value, str) else json.dumps(value)


def remediation_of(remediation: WireRemediation) -> Remediation:
    """The workflow's view of a remediation (``approved_by`` a User: its name, else email)."""
    who = remediation.approved_by if isinstance(remediation.approved_by, dict) else {}
    given = remediation.parameters
    parameters = given if isinstance(given, list) else [] if given is None else [given]
    return Remediation(
        remediation_id=remediation.id,
        type=text_or_none(remediation.type),
        action=text_or_none(remediation.action),
        status=text_or_none(remediation.status),
        parameters=[_parameter(p) for p in parameters],
        approved_at=instant_or_none(remediation.approved_at),
        approved_by=text_or_none(who.get("name")) or text_or_none(who.get("email")),
        completed_at=instant_or_none(remediation.completed_at),
    )


def embedded_remediations(report: WireIncidentReport) -> tuple[int | None, list[Any], bool]:
    """A report's ``remediations`` summary: ``(total_count, items, has_more)``.

    Huntress embeds the first 10; ``has_more`` says there are others.
    """
    summary = report.remediations if isinstance(report.remediations, dict) else {}
    items = summary.get("items")
    return (
        integer_or_none(summary.get("total_count")),
        items if isinstance(items, list) else [],
        summary.get("has_more") is True,
    )


def unapproved_in(items: list[Any]) -> int:
    """How many of a report's embedded remediations are ``unapproved``."""
    return sum(1 for item in items if isinstance(item, dict) and item.get("status") == "unapproved")


def organization_of(org: WireOrganization) -> Organization:
    """The workflow's view of an organization."""
    return Organization(
        organization_id=org.id,
        name=text_or_none(org.name),
        agents_count=integer_or_none(org.agents_count),
    )


def agent_of(agent: WireAgent) -> Agent:
    """The workflow's view of an agent."""
    return Agent(
        agent_id=agent.id,
        hostname=text_or_none(agent.hostname),
        platform=text_or_none(agent.platform),
        os=text_or_none(agent.os),
        version=text_or_none(agent.version),
        organization_id=integer_or_none(agent.organization_id),
        last_callback_at=instant_or_none(agent.last_callback_at),
        ipv4_address=text_or_none(agent.ipv4_address),
    )
