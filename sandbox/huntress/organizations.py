"""Organizations: the account's customers.

- ``GET /v1/organizations`` -> ``{"organizations": [...], "pagination"}``;
  the spec's params: paging, ``sort_field`` ``id|created_at|updated_at|name|key``,
  ``sort_direction``, and the filters ``name`` and ``key`` (exact match
  *(choice: the spec says only "Filter by organization name/key")*).
- ``GET /v1/organizations/{id}`` -> ``{"organization": {...}}``; unknown or
  another account's -> 404.
- Fields: the spec's ``Organization`` properties (id, account_id, name, key,
  agents_count, incident_reports_count, logs_sources_count,
  billable_identity_count, sat_learner_count, identity_provider_tenant_id,
  report_recipients, created_at, updated_at). Its ``required`` list names
  three fields it does not define (``microsoft_365_tenant_id``,
  ``microsoft_365_users_count``, ``notify_emails``; a known spec bug,
  vendor-specs.md), which the fake does not invent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response, route
from sandbox.huntress.api import NOT_FOUND, ApiError, Param, iso, sort_params
from sandbox.huntress.auth import Auth

__all__ = ["ORGANIZATION_PARAMS", "Organization", "Organizations"]

ORGANIZATION_PARAMS: tuple[Param, ...] = (
    *sort_params("id", "created_at", "updated_at", "name", "key"),
    Param("name"),
    Param("key"),
)
"""The query parameters ``GET /v1/organizations`` takes, as the spec declares them."""


@dataclass
class Organization:
    """A customer organization of an account; times are epoch seconds."""

    id: int
    account_id: int
    name: str
    key: str
    created_at: float
    updated_at: float
    report_recipients: list[str] = field(default_factory=list)
    identity_provider_tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    logs_sources_count: int = 0
    billable_identity_count: int = 0
    sat_learner_count: int = 0


class Organizations(Auth):
    """Organizations and their two routes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._organizations: dict[int, Organization] = {}

    def add_organization(
        self,
        account_id: int,
        name: str,
        *,
        key: str | None = None,
        created_ago: float = 86_400.0 * 30,
        report_recipients: list[str] | None = None,
        billable_identity_count: int = 0,
    ) -> Organization:
        """A new organization of ``account_id`` created ``created_ago`` seconds ago."""
        with self._lock:
            self.account(account_id)
            created = self.epoch_ago(created_ago)
            org = Organization(
                self._new_id("organization", 201),
                account_id,
                name,
                key or "".join(c for c in name.lower() if c.isalnum())[:20],
                created,
                created,
                report_recipients=list(report_recipients or []),
                billable_identity_count=billable_identity_count,
            )
            self._organizations[org.id] = org
            return org

    def organization(self, organization_id: int) -> Organization:
        """An organization by id (KeyError when unknown)."""
        with self._lock:
            return self._organizations[organization_id]

    def agents_count(self, organization_id: int) -> int:
        """How many agents the organization has (the agents part overrides this)."""
        return 0

    def incident_reports_count(self, organization_id: int) -> int:
        """How many incident reports the organization has (the incidents part overrides this)."""
        return 0

    def organization_view(self, org: Organization) -> dict[str, Any]:
        """The spec's ``Organization``."""
        return {
            "id": org.id,
            "account_id": org.account_id,
            "name": org.name,
            "key": org.key,
            "agents_count": self.agents_count(org.id),
            "incident_reports_count": self.incident_reports_count(org.id),
            "logs_sources_count": org.logs_sources_count,
            "billable_identity_count": org.billable_identity_count,
            "sat_learner_count": org.sat_learner_count,
            "identity_provider_tenant_id": org.identity_provider_tenant_id,
            "report_recipients": list(org.report_recipients),
            "created_at": iso(org.created_at),
            "updated_at": iso(org.updated_at),
        }

    def _own_organization(self, req: SandboxRequest, organization_id: int) -> Organization:
        org = self._organizations.get(organization_id)
        if org is None or org.account_id != self.caller(req).account_id:
            raise ApiError(404, NOT_FOUND)
        return org

    # -- routes -------------------------------------------------------------------

    @route("GET", "/v1/organizations")
    def list_organizations(self, req: SandboxRequest) -> httpx.Response:
        """The account's organizations, filtered by ``name``/``key``, one page."""
        args = self.query(req, ORGANIZATION_PARAMS)
        account_id = self.caller(req).account_id
        found = [
            o
            for o in self._organizations.values()
            if o.account_id == account_id
            and (args["name"] is None or o.name == args["name"])
            and (args["key"] is None or o.key == args["key"])
        ]
        return self.page(
            req,
            "organizations",
            found,
            args,
            key=lambda o, f: getattr(o, f),
            item_id=lambda o: o.id,
            view=self.organization_view,
        )

    @route("GET", "/v1/organizations/{id}")
    def get_organization(self, req: SandboxRequest) -> httpx.Response:
        """One organization of the account."""
        org = self._own_organization(req, self.path_id(req))
        return json_response(200, {"organization": self.organization_view(org)})
