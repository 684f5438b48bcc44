"""Incident reports, their remediations, resolution, bulk approval and bulk rejection.

All routes are the spec's (paths under ``/v1/incident_reports``):

- ``GET /v1/incident_reports`` -> ``{"incident_reports": [...], "pagination"}``;
  paging (``sort_field`` ``id|created_at|updated_at``) and the filters
  ``indicator_type``, ``status``, ``severity``, ``platform`` (the spec's
  enums: anything else -> 400), ``organization_id``, ``agent_id``.
- ``GET /v1/incident_reports/{id}`` -> ``{"incident_report": {...}}``.
- ``POST /v1/incident_reports/{id}/resolution`` (no body; the spec declares
  none) -> **201** ``{"incident_report": {...}}`` with ``status`` ``closed``
  and ``closed_at``/``status_updated_at``/``updated_at`` now (the spec's
  description says "resolved", its enum has no such value; vendors.md §3
  and the reference read ``closed``). Refusals, in this order: read-only
  account key -> 403; unknown or another account's report -> 404; status
  not ``sent`` -> **422** ``Incident Report cannot be resolved unless report
  status is 'sent'.``; a remediation still ``unapproved`` -> **409**
  ``Incident Report cannot be resolved. Confirm that all remediations are
  approved and report status is 'sent'.`` (both messages the spec's).
  Approved, completed, failed and cancelled remediations do not block it
  *(choice: only ``unapproved`` is "not approved"; the others come after
  an approval or a rejection)*; no remediations at all does not block it.
- ``GET /v1/incident_reports/{incident_report_id}/remediations`` ->
  ``{"remediations": [...], "pagination"}``; paging and ``types[]``,
  ``statuses[]`` (comma-separated; the spec's enums, else 400).
- ``GET .../remediations/{remediation_id}`` -> ``{"remediation": {...}}``.
- ``POST .../remediations/bulk_approval`` (no body) -> **201**
  ``{"incident_report": {...}}`` (the spec's schema): every ``unapproved``
  remediation becomes ``approved`` with ``approved_at`` now and
  ``approved_by`` the key's user. Read-only key -> 403; unknown -> 404;
  report not ``sent`` -> **409** ``Incident Report must have a status of
  'sent'.`` (the spec's). Nothing left to approve -> 201 unchanged
  *(choice: idempotent)*. The spec's 422 ``Unable to approve remediations``
  is never produced by the fake (inject it with a fault).
- ``POST .../remediations/bulk_rejection`` with the spec's
  ``RemediationBulkRejectionParameters`` ``{"comment" (required), "useful"
  (required boolean), "name"?, "phone_number"?, "email"?}`` -> **201** with
  no body (the spec declares no schema) *(choice)*: every ``unapproved``
  remediation becomes ``cancelled`` *(choice: the enum has no "rejected")*
  and the rejection is recorded (:meth:`Incidents.rejections`). The report
  stays ``sent`` *(choice: "sends the report back to the SOC", a state the
  status enum does not name)*. Read-only key -> 403; a missing required
  field -> 400 ``comment is missing, useful is missing``; ``useful`` not a
  boolean (``"true"``/``"false"`` are coerced, as Grape does) -> 400
  ``useful is invalid``; unknown -> 404; not ``sent`` -> 409 (as approval).
  A form body is read like JSON.

IncidentReport fields: the spec's properties (id, account_id, agent_id,
organization_id, subject, summary, body, severity, status,
status_updated_at, sent_at, closed_at, platform, indicator_types,
indicator_counts, updated_at) and ``remediations`` ``{total_count,
has_more, items}`` holding the first 10 by id *(choice: the order)*, each
item a ``Remediation``. ``created_at`` is kept for sorting but not shown (the
spec's model has none). Remediation ``parameters`` is an array of strings,
as the spec's schema says (its example shows objects) *(choice)*.

Not modelled: assisted remediations running after approval (they stay
``approved``), the ``/v1/accounts/{account_id}/...`` reseller copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.core import SandboxRequest, empty_response, json_response, route
from sandbox.huntress.agents import Agents
from sandbox.huntress.api import NOT_FOUND, PAGING_PARAMS, ApiError, Param, iso

__all__ = [
    "INCIDENT_PARAMS",
    "INCIDENT_PLATFORMS",
    "INCIDENT_STATUSES",
    "INDICATOR_TYPES",
    "REJECTION_FIELDS",
    "REMEDIATION_PARAMS",
    "REMEDIATION_STATUSES",
    "REMEDIATION_TYPES",
    "SEVERITIES",
    "IncidentReport",
    "Incidents",
    "Remediation",
]

INCIDENT_STATUSES = (
    "sent",
    "closed",
    "dismissed",
    "auto_remediating",
    "deleting",
    "partner_dismissed",
)
SEVERITIES = ("low", "high", "critical")
INCIDENT_PLATFORMS = (
    "windows",
    "darwin",
    "microsoft_365",
    "google",
    "linux",
    "email_security",
    "other",
)
INDICATOR_TYPES = (
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
)
REMEDIATION_TYPES = ("assisted", "manual", "containment")
REMEDIATION_STATUSES = ("unapproved", "approved", "completed", "failed", "cancelled")
REJECTION_FIELDS = ("comment", "useful", "name", "phone_number", "email")

INCIDENT_PARAMS: tuple[Param, ...] = (
    *PAGING_PARAMS,
    Param("indicator_type", values=INDICATOR_TYPES),
    Param("status", values=INCIDENT_STATUSES),
    Param("severity", values=SEVERITIES),
    Param("platform", values=INCIDENT_PLATFORMS),
    Param("organization_id", "integer"),
    Param("agent_id", "integer"),
)
"""The query parameters ``GET /v1/incident_reports`` takes, as the spec declares them."""

REMEDIATION_PARAMS: tuple[Param, ...] = (
    *PAGING_PARAMS,
    Param("types[]", "array", values=REMEDIATION_TYPES),
    Param("statuses[]", "array", values=REMEDIATION_STATUSES),
)
"""The query parameters ``GET .../remediations`` takes, as the spec declares them."""

EMBEDDED_REMEDIATIONS = 10
CANNOT_RESOLVE_UNSENT = "Incident Report cannot be resolved unless report status is 'sent'."
CANNOT_RESOLVE_PENDING = (
    "Incident Report cannot be resolved. "
    "Confirm that all remediations are approved and report status is 'sent'."
)
MUST_BE_SENT = "Incident Report must have a status of 'sent'."


@dataclass
class Remediation:
    """One remediation step of an incident report; times are epoch seconds."""

    id: int
    type: str
    action: str
    status: str
    created_at: float
    updated_at: float
    parameters: list[str] = field(default_factory=list)
    approved_at: float | None = None
    approved_by: int | None = None
    completed_at: float | None = None


@dataclass
class IncidentReport:
    """An incident report on one agent; times are epoch seconds."""

    id: int
    account_id: int
    organization_id: int
    agent_id: int
    subject: str
    summary: str
    body: str
    severity: str
    status: str
    platform: str
    indicator_counts: dict[str, int]
    created_at: float
    updated_at: float
    status_updated_at: float
    sent_at: float | None
    closed_at: float | None = None
    remediations: list[Remediation] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)

    @property
    def indicator_types(self) -> list[str]:
        return [t for t, n in self.indicator_counts.items() if n > 0]


class Incidents(Agents):
    """Incident reports, remediations, and the three writes on them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._reports: dict[int, IncidentReport] = {}

    # -- state ------------------------------------------------------------------

    def add_incident_report(
        self,
        agent_id: int,
        *,
        severity: str = "high",
        status: str = "sent",
        indicators: dict[str, int] | None = None,
        summary: str = "Huntress detected a malicious scheduled task on this host.",
        body: str | None = None,
        platform: str | None = None,
        created_ago: float = 3600.0,
    ) -> IncidentReport:
        """A new report on ``agent_id`` (its organization and account), created ``created_ago``.

        ``indicators``: indicator type -> count (default one foothold). A
        report not in ``sent`` status was sent, then moved on; ``closed``
        also gets ``closed_at``.
        """
        indicators = dict(indicators or {"footholds": 1})
        if status not in INCIDENT_STATUSES or severity not in SEVERITIES:
            raise ValueError(f"status: {INCIDENT_STATUSES}; severity: {SEVERITIES}")
        if not set(indicators) <= set(INDICATOR_TYPES):
            raise ValueError(f"indicator types are {INDICATOR_TYPES}")
        with self._lock:
            agent = self.agent(agent_id)
            org = self.organization(agent.organization_id)
            created = self.epoch_ago(created_ago)
            platform = platform or agent.platform
            if platform not in INCIDENT_PLATFORMS:
                raise ValueError(f"platform is one of {INCIDENT_PLATFORMS}")
            report = IncidentReport(
                id=self._new_id("incident_report", 1001),
                account_id=agent.account_id,
                organization_id=org.id,
                agent_id=agent.id,
                subject=f"{severity.upper()} - Incident on {agent.hostname} ({org.name})",
                summary=summary,
                body=body if body is not None else f"<p>{summary}</p>",
                severity=severity,
                status=status,
                platform=platform,
                indicator_counts={t: indicators.get(t, 0) for t in INDICATOR_TYPES[:5]}
                | indicators,
                created_at=created,
                updated_at=created,
                status_updated_at=created,
                sent_at=created,
                closed_at=created if status == "closed" else None,
            )
            self._reports[report.id] = report
            return report

    def add_remediation(
        self,
        incident_id: int,
        *,
        type: str = "manual",
        action: str = "Delete File",
        status: str = "unapproved",
        parameters: list[str] | None = None,
        approved_by: int | None = None,
    ) -> Remediation:
        """A remediation of report ``incident_id``; an approved one is approved now.

        ``approved_by``: the approving user's id (None: nobody named).
        """
        if type not in REMEDIATION_TYPES or status not in REMEDIATION_STATUSES:
            raise ValueError(f"type: {REMEDIATION_TYPES}; status: {REMEDIATION_STATUSES}")
        with self._lock:
            report = self.incident_report(incident_id)
            now = self.epoch()
            after_approval = status in ("approved", "completed", "failed")
            remediation = Remediation(
                id=self._new_id("remediation", 5001),
                type=type,
                action=action,
                status=status,
                created_at=now,
                updated_at=now,
                parameters=list(parameters or []),
                approved_at=now if after_approval else None,
                approved_by=approved_by if after_approval else None,
                completed_at=now if status == "completed" else None,
            )
            report.remediations.append(remediation)
            report.updated_at = now
            return remediation

    def incident_report(self, incident_id: int) -> IncidentReport:
        """A report by id (KeyError when unknown)."""
        with self._lock:
            return self._reports[incident_id]

    def set_incident_status(self, incident_id: int, status: str) -> IncidentReport:
        """Move a report to ``status`` (``closed`` sets ``closed_at``), as the SOC would."""
        if status not in INCIDENT_STATUSES:
            raise ValueError(f"status is one of {INCIDENT_STATUSES}")
        with self._lock:
            report = self.incident_report(incident_id)
            self._set_status(report, status)
            return report

    def rejections(self, incident_id: int) -> list[dict[str, Any]]:
        """The bodies of the report's accepted bulk rejections, in order."""
        with self._lock:
            return [dict(r) for r in self.incident_report(incident_id).rejections]

    def incident_reports_count(self, organization_id: int) -> int:
        """How many incident reports the organization has."""
        return sum(1 for r in self._reports.values() if r.organization_id == organization_id)

    def _set_status(self, report: IncidentReport, status: str) -> None:
        now = self.epoch()
        report.status = status
        report.status_updated_at = report.updated_at = now
        report.closed_at = now if status == "closed" else report.closed_at
        if status == "sent":
            report.sent_at = report.sent_at or now

    # -- views ------------------------------------------------------------------

    def remediation_view(self, remediation: Remediation) -> dict[str, Any]:
        """The spec's ``Remediation``."""
        approver = self.user(remediation.approved_by)
        return {
            "id": remediation.id,
            "type": remediation.type,
            "action": remediation.action,
            "parameters": list(remediation.parameters),
            "status": remediation.status,
            "approved_at": iso(remediation.approved_at),
            "approved_by": None if approver is None else approver.view(),
            "completed_at": iso(remediation.completed_at),
        }

    def incident_view(self, report: IncidentReport) -> dict[str, Any]:
        """The spec's ``IncidentReport``, with its first 10 remediations."""
        ordered = sorted(report.remediations, key=lambda r: r.id)
        return {
            "id": report.id,
            "account_id": report.account_id,
            "organization_id": report.organization_id,
            "agent_id": report.agent_id,
            "subject": report.subject,
            "summary": report.summary,
            "body": report.body,
            "severity": report.severity,
            "status": report.status,
            "platform": report.platform,
            "indicator_types": report.indicator_types,
            "indicator_counts": dict(report.indicator_counts),
            "remediations": {
                "total_count": len(ordered),
                "has_more": len(ordered) > EMBEDDED_REMEDIATIONS,
                "items": [self.remediation_view(r) for r in ordered[:EMBEDDED_REMEDIATIONS]],
            },
            "sent_at": iso(report.sent_at),
            "closed_at": iso(report.closed_at),
            "status_updated_at": iso(report.status_updated_at),
            "updated_at": iso(report.updated_at),
        }

    def _own_report(self, req: SandboxRequest, name: str = "id") -> IncidentReport:
        report = self._reports.get(self.path_id(req, name))
        if report is None or report.account_id != self.caller(req).account_id:
            raise ApiError(404, NOT_FOUND)
        return report

    # -- routes: reports ------------------------------------------------------------

    @route("GET", "/v1/incident_reports")
    def list_incident_reports(self, req: SandboxRequest) -> httpx.Response:
        """The account's incident reports, filtered, one page."""
        args = self.query(req, INCIDENT_PARAMS)
        account_id = self.caller(req).account_id
        exact = {
            k: args[k] for k in ("status", "severity", "platform", "organization_id", "agent_id")
        }
        indicator = args["indicator_type"]
        found = [
            r
            for r in self._reports.values()
            if r.account_id == account_id
            and all(v is None or getattr(r, k) == v for k, v in exact.items())
            and (indicator is None or indicator in r.indicator_types)
        ]
        return self.page(
            req,
            "incident_reports",
            found,
            args,
            key=lambda r, f: getattr(r, f),
            item_id=lambda r: r.id,
            view=self.incident_view,
        )

    @route("GET", "/v1/incident_reports/{id}")
    def get_incident_report(self, req: SandboxRequest) -> httpx.Response:
        """One incident report of the account."""
        return json_response(200, {"incident_report": self.incident_view(self._own_report(req))})

    @route("POST", "/v1/incident_reports/{id}/resolution")
    def resolve_incident_report(self, req: SandboxRequest) -> httpx.Response:
        """Resolve (close) a ``sent`` report whose remediations are all approved."""
        self.require_write(req)
        report = self._own_report(req)
        if report.status != "sent":
            raise ApiError(422, CANNOT_RESOLVE_UNSENT)
        if any(r.status == "unapproved" for r in report.remediations):
            raise ApiError(409, CANNOT_RESOLVE_PENDING)
        self._set_status(report, "closed")
        return json_response(201, {"incident_report": self.incident_view(report)})

    # -- routes: remediations ---------------------------------------------------------

    @route("GET", "/v1/incident_reports/{incident_report_id}/remediations")
    def list_remediations(self, req: SandboxRequest) -> httpx.Response:
        """A report's remediations, filtered by ``types[]``/``statuses[]``, one page."""
        args = self.query(req, REMEDIATION_PARAMS)
        report = self._own_report(req, "incident_report_id")
        types, statuses = args["types[]"], args["statuses[]"]
        found = [
            r
            for r in report.remediations
            if (not types or r.type in types) and (not statuses or r.status in statuses)
        ]
        return self.page(
            req,
            "remediations",
            found,
            args,
            key=lambda r, f: getattr(r, f),
            item_id=lambda r: r.id,
            view=self.remediation_view,
        )

    @route("GET", "/v1/incident_reports/{incident_report_id}/remediations/{remediation_id}")
    def get_remediation(self, req: SandboxRequest) -> httpx.Response:
        """One remediation of a report."""
        report = self._own_report(req, "incident_report_id")
        wanted = self.path_id(req, "remediation_id")
        found = next((r for r in report.remediations if r.id == wanted), None)
        if found is None:
            raise ApiError(404, NOT_FOUND)
        return json_response(200, {"remediation": self.remediation_view(found)})

    @route("POST", "/v1/incident_reports/{incident_report_id}/remediations/bulk_approval")
    def approve_remediations(self, req: SandboxRequest) -> httpx.Response:
        """Approve every unapproved remediation of a ``sent`` report."""
        key = self.require_write(req)
        report = self._own_report(req, "incident_report_id")
        if report.status != "sent":
            raise ApiError(409, MUST_BE_SENT)
        now = self.epoch()
        for remediation in report.remediations:
            if remediation.status == "unapproved":
                remediation.status = "approved"
                remediation.approved_at = remediation.updated_at = now
                remediation.approved_by = key.user_id
                report.updated_at = now
        return json_response(201, {"incident_report": self.incident_view(report)})

    @route("POST", "/v1/incident_reports/{incident_report_id}/remediations/bulk_rejection")
    def reject_remediations(self, req: SandboxRequest) -> httpx.Response:
        """Reject every unapproved remediation of a ``sent`` report, with a comment."""
        self.require_write(req)
        rejection = _rejection(req.body)
        report = self._own_report(req, "incident_report_id")
        if report.status != "sent":
            raise ApiError(409, MUST_BE_SENT)
        now = self.epoch()
        for remediation in report.remediations:
            if remediation.status == "unapproved":
                remediation.status = "cancelled"
                remediation.updated_at = report.updated_at = now
        report.rejections.append(rejection)
        return empty_response(201)


def _rejection(body: Any) -> dict[str, Any]:
    """The rejection parameters of a body; ApiError(400) as Grape would answer."""
    given: dict[str, Any] = body if isinstance(body, dict) else {}
    missing = [name for name in ("comment", "useful") if given.get(name) is None]
    if missing:
        raise ApiError(400, ", ".join(f"{name} is missing" for name in missing))
    problems: list[str] = []
    useful = given["useful"]
    if isinstance(useful, str) and useful.lower() in ("true", "false"):
        useful = useful.lower() == "true"
    if not isinstance(useful, bool):
        problems.append("useful is invalid")
    for name in ("comment", "name", "phone_number", "email"):
        if given.get(name) is not None and not isinstance(given[name], str):
            problems.append(f"{name} is invalid")
    if problems:
        raise ApiError(400, ", ".join(problems))
    return {name: useful if name == "useful" else given.get(name) for name in REJECTION_FIELDS}
