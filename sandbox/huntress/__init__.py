"""FakeHuntress: stateful Huntress accounts behind Huntress's REST API v1.

Source of truth: the vendor's own spec, ``shared/vendor-specs/
huntress-rest-openapi.json`` (Swagger 2.0, the raw ``/v1/swagger_doc.json``;
its HTML ``info.description`` documents auth, the rate limit, 400/401/404/
429/500 and paging), then vendors.md §3 and §5. Where they are silent the
choices are marked *(choice)* in the modules:

- :mod:`sandbox.huntress.api`: error bodies, query validation (400s), token
  paging with ``next_page_url``, timestamps;
- :mod:`sandbox.huntress.auth`: accounts, users, HTTP Basic keys (user keys
  and read-only account keys), ``GET /v1/account``;
- :mod:`sandbox.huntress.ratelimit`: the 60-per-60 s sliding window per account;
- :mod:`sandbox.huntress.organizations`: organizations (list, get);
- :mod:`sandbox.huntress.agents`: agents (list, get);
- :mod:`sandbox.huntress.incidents`: incident reports (list, get), resolution,
  remediations (list, get), bulk approval and bulk rejection.

The base URL is the root (``http://127.0.0.1:PORT``, what a tenant's
``instance_url`` holds); the API is under ``/v1/...``. Order of a request:
a path outside ``/v1`` is 404; then Basic authentication (401); then the
account's rate window (429, :mod:`sandbox.huntress.ratelimit`); then the
route (403 for a read-only key's write, 400 for bad parameters, 404, 409,
422). A fault injected with the shared mechanism (e.g. a forced 429)
answers before any of that.

Control surface, besides the shared one (:mod:`sandbox.core`):

- ``POST /__sandbox/credentials`` ``{"kind"?: "user"|"account",
  "account_id"?}`` -> 201 ``{"api_key", "api_secret"}``: a new key of the
  demo account (or ``account_id``): a user key (default) or a read-only
  account key (:meth:`FakeHuntress.mint_credentials`); bad kind -> 400,
  unknown account -> 404;
- ``POST /__sandbox/accounts`` ``{"name"}`` -> 201 ``{"account_id",
  "api_key", "api_secret"}``: a second tenant with its own user key and
  its own rate window;
- ``POST /__sandbox/incident_reports`` ``{"agent_id", "severity"?,
  "status"?, "indicators"?: {type: count}, "summary"?}`` -> 201
  ``{"incident_report"}``;
- ``POST /__sandbox/incident_reports/{id}/status`` ``{"status"}`` -> 200
  ``{"incident_report"}``: move a report (the SOC's or a user's doing);
- ``POST /__sandbox/incident_reports/{id}/remediations`` ``{"type"?,
  "action"?, "status"?, "parameters"?: [str]}`` -> 201 ``{"remediation"}``;
- ``GET /__sandbox/rate_limit`` -> 200 ``{"limit", "window", "time_scale",
  "retry_after", "accounts": {"<id>": {"in_window", "refused"}}}``;
  ``POST /__sandbox/rate_limit`` with any of the first four -> 200, the same.

Unknown ids in these -> 404, invalid values -> 400, as ``{"error": ...}``.
Rate-limit refusals are also in the request log (status 429, ``fault``
false); :meth:`FakeHuntress.refused_count` counts them per account.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response
from sandbox.huntress.agents import AGENT_PARAMS, AGENT_PLATFORMS, Agent
from sandbox.huntress.api import (
    FORBIDDEN,
    LIMIT_DEFAULT,
    LIMIT_MAX,
    LIMIT_MIN,
    PAGING_PARAMS,
    Param,
    error,
)
from sandbox.huntress.auth import KEY_KINDS, Account, ApiKey, User
from sandbox.huntress.incidents import (
    INCIDENT_PARAMS,
    INCIDENT_PLATFORMS,
    INCIDENT_STATUSES,
    INDICATOR_TYPES,
    REJECTION_FIELDS,
    REMEDIATION_PARAMS,
    REMEDIATION_STATUSES,
    REMEDIATION_TYPES,
    SEVERITIES,
    IncidentReport,
    Incidents,
    Remediation,
)
from sandbox.huntress.organizations import ORGANIZATION_PARAMS, Organization
from sandbox.huntress.ratelimit import RATE_LIMIT, RATE_WINDOW, RateLimiter, retry_after_seconds

__all__ = [
    "AGENT_PARAMS",
    "AGENT_PLATFORMS",
    "FORBIDDEN",
    "INCIDENT_PARAMS",
    "INCIDENT_PLATFORMS",
    "INCIDENT_STATUSES",
    "INDICATOR_TYPES",
    "KEY_KINDS",
    "LIMIT_DEFAULT",
    "LIMIT_MAX",
    "LIMIT_MIN",
    "ORGANIZATION_PARAMS",
    "PAGING_PARAMS",
    "RATE_LIMIT",
    "RATE_WINDOW",
    "REJECTION_FIELDS",
    "REMEDIATION_PARAMS",
    "REMEDIATION_STATUSES",
    "REMEDIATION_TYPES",
    "SEVERITIES",
    "Account",
    "Agent",
    "ApiKey",
    "FakeHuntress",
    "IncidentReport",
    "Organization",
    "Param",
    "Remediation",
    "User",
]

DEMO_ACCOUNT_NAME = "Patchbay Demo MSP"
DEMO_SUBDOMAIN = "patchbay-demo"
DEMO_API_KEY = "hk_patchbaydemo00000000000000000001"
DEMO_API_SECRET = "hs_patchbaydemo0000000000000000000000000000000001"
DEMO_READ_ONLY_KEY = "hk_patchbaydemoreadonly000000000001"
DEMO_READ_ONLY_SECRET = "hs_patchbaydemoreadonly00000000000000000000000001"
TOO_MANY_REQUESTS = "Too Many Requests"
_REPORT_CONTROL = re.compile(r"^/__sandbox/incident_reports/(\d+)/(status|remediations)$")


class FakeHuntress(Incidents):
    """Huntress accounts behind the v1 REST API; see the module docstring.

    ``rate_limit``/``window``: the per-account sliding window (None: no
    limit). ``time_scale``: clock seconds per second of the window (0.01
    makes a 60 s window last 0.6 s, for benchmarks). ``retry_after``: send
    ``Retry-After`` on the limiter's 429s (Huntress documents none).
    """

    def __init__(
        self,
        *,
        rate_limit: int | None = RATE_LIMIT,
        window: float = RATE_WINDOW,
        time_scale: float = 1.0,
        retry_after: bool = False,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        epoch_origin: float | None = None,
    ) -> None:
        super().__init__(clock=clock, sleep=sleep, epoch_origin=epoch_origin)
        self.limiter = RateLimiter(rate_limit, window, time_scale=time_scale)
        self.retry_after = retry_after
        self._demo_account_id: int | None = None

    def dispatch(self, req: SandboxRequest) -> httpx.Response:
        """404 outside ``/v1``; authenticate; charge the account's window; route."""
        if req.path != "/v1" and not req.path.startswith("/v1/"):
            return self.not_found(req)
        found = self._authenticate(req)
        if isinstance(found, httpx.Response):
            return found
        req.context["key"] = found
        wait = self.limiter.admit(found.account_id, self.now())
        if wait is not None:
            headers = {"Retry-After": retry_after_seconds(wait)} if self.retry_after else None
            return error(429, TOO_MANY_REQUESTS, headers=headers)
        return super().dispatch(req)

    # -- rate limit -------------------------------------------------------------------

    def refused_count(self, account_id: int) -> int:
        """How many of the account's requests the rate window refused (429)."""
        with self._lock:
            return self.limiter.refused(account_id)

    def in_window(self, account_id: int) -> int:
        """How many of the account's requests the window holds now."""
        with self._lock:
            return self.limiter.in_window(account_id, self.now())

    def configure_rate_limit(
        self,
        *,
        limit: int | None = RATE_LIMIT,
        window: float = RATE_WINDOW,
        time_scale: float = 1.0,
        retry_after: bool | None = None,
    ) -> None:
        """Change the quota, window, time scale (and whether 429s carry ``Retry-After``)."""
        with self._lock:
            self.limiter.configure(limit=limit, window=window, time_scale=time_scale)
            if retry_after is not None:
                self.retry_after = retry_after

    def reset(self) -> None:
        """Clear the request log, the faults and every rate window (the data stays)."""
        with self._lock:
            super().reset()
            self.limiter.reset()

    def _rate_limit_state(self) -> dict[str, Any]:
        now = self.now()
        return {
            "limit": self.limiter.limit,
            "window": self.limiter.window,
            "time_scale": self.limiter.time_scale,
            "retry_after": self.retry_after,
            "accounts": {
                str(account_id): {
                    "in_window": self.limiter.in_window(account_id, now),
                    "refused": self.limiter.refused(account_id),
                }
                for account_id in self._accounts
            },
        }

    # -- control surface --------------------------------------------------------------

    control_endpoints = (
        ("POST", "/__sandbox/credentials", 'mint a key: {"kind": "user"|"account", "account_id"}'),
        ("POST", "/__sandbox/accounts", 'add an account {"name"} with a user key'),
        (
            "POST",
            "/__sandbox/incident_reports",
            'add a report {"agent_id", "severity", "status", "indicators", "summary"}',
        ),
        ("POST", "/__sandbox/incident_reports/{id}/status", 'set a report\'s {"status"}'),
        (
            "POST",
            "/__sandbox/incident_reports/{id}/remediations",
            'add a remediation {"type", "action", "status", "parameters"}',
        ),
        ("GET", "/__sandbox/rate_limit", "the rate limit's settings and each account's window"),
        (
            "POST",
            "/__sandbox/rate_limit",
            'set {"limit", "window", "time_scale", "retry_after"}',
        ),
    )

    def control(self, req: SandboxRequest) -> httpx.Response | None:
        """The fake's own control endpoints (see the module docstring)."""
        if req.path == "/__sandbox/rate_limit":
            if req.method == "GET":
                return json_response(200, self._rate_limit_state())
            if req.method == "POST":
                return self._control_rate_limit(_body(req))
            return None
        if req.method != "POST":
            return None
        body = _body(req)
        if req.path == "/__sandbox/credentials":
            return self._control_credentials(body)
        if req.path == "/__sandbox/accounts":
            return self._control_account(body)
        if req.path == "/__sandbox/incident_reports":
            return self._control_new_report(body)
        match = _REPORT_CONTROL.match(req.path)
        if match is None:
            return None
        report = self._reports.get(int(match[1]))
        if report is None:
            return error(404, "No such incident report")
        if match[2] == "status":
            if body.get("status") not in INCIDENT_STATUSES:
                return error(400, f"status: {'|'.join(INCIDENT_STATUSES)}")
            self.set_incident_status(report.id, body["status"])
            return json_response(200, {"incident_report": self.incident_view(report)})
        return self._control_new_remediation(report, body)

    def _control_credentials(self, body: dict[str, Any]) -> httpx.Response:
        kind, account_id = body.get("kind", "user"), body.get("account_id")
        if kind not in KEY_KINDS:
            return error(400, f"kind: {'|'.join(KEY_KINDS)}")
        if account_id is not None and account_id not in self._accounts:
            return error(404, "No such account")
        return json_response(201, self.mint_credentials(kind=kind, account_id=account_id))

    def _control_account(self, body: dict[str, Any]) -> httpx.Response:
        name = body.get("name")
        if not isinstance(name, str) or not name:
            return error(400, "name is required")
        account_id = self.add_account(name)
        key, secret = self.add_key(account_id)
        return json_response(201, {"account_id": account_id, "api_key": key, "api_secret": secret})

    def _control_new_report(self, body: dict[str, Any]) -> httpx.Response:
        agent_id = body.get("agent_id")
        if type(agent_id) is not int or agent_id not in self._agents:
            return error(404, "No such agent")
        indicators = body.get("indicators")
        if indicators is not None and not (
            isinstance(indicators, dict)
            and all(k in INDICATOR_TYPES and type(v) is int for k, v in indicators.items())
        ):
            return error(400, f"indicators: an object of {', '.join(INDICATOR_TYPES)} -> int")
        options = {k: body[k] for k in ("severity", "status", "summary") if k in body}
        try:
            report = self.add_incident_report(agent_id, indicators=indicators, **options)
        except (TypeError, ValueError) as exc:
            return error(400, str(exc))
        return json_response(201, {"incident_report": self.incident_view(report)})

    def _control_new_remediation(
        self, report: IncidentReport, body: dict[str, Any]
    ) -> httpx.Response:
        parameters = body.get("parameters")
        if parameters is not None and not (
            isinstance(parameters, list) and all(isinstance(p, str) for p in parameters)
        ):
            return error(400, "parameters: a list of strings")
        options = {k: body[k] for k in ("type", "action", "status") if k in body}
        try:
            remediation = self.add_remediation(report.id, parameters=parameters, **options)
        except (TypeError, ValueError) as exc:
            return error(400, str(exc))
        return json_response(201, {"remediation": self.remediation_view(remediation)})

    def _control_rate_limit(self, body: dict[str, Any]) -> httpx.Response:
        limit = body.get("limit", self.limiter.limit)
        window = body.get("window", self.limiter.window)
        time_scale = body.get("time_scale", self.limiter.time_scale)
        retry_after = body.get("retry_after", self.retry_after)
        if limit is not None and (type(limit) is not int or limit < 1):
            return error(400, "limit must be an integer >= 1 or null")
        if any(type(v) not in (int, float) or v <= 0 for v in (window, time_scale)):
            return error(400, "window and time_scale must be numbers > 0")
        if not isinstance(retry_after, bool):
            return error(400, "retry_after must be a boolean")
        self.configure_rate_limit(
            limit=limit, window=float(window), time_scale=float(time_scale), retry_after=retry_after
        )
        return json_response(200, self._rate_limit_state())

    # -- demo -------------------------------------------------------------------------------

    def _demo_account(self) -> int:
        if self._demo_account_id is None:
            self._demo_account_id = self.add_account(DEMO_ACCOUNT_NAME, subdomain=DEMO_SUBDOMAIN)
        return self._demo_account_id

    def mint_credentials(
        self, *, kind: str = "user", account_id: int | None = None
    ) -> dict[str, str]:
        """A new key of the demo account (or ``account_id``): ``{"api_key", "api_secret"}``.

        ``kind="account"`` makes a read-only account key. Creates the demo
        account first if the demo data is not loaded.
        """
        with self._lock:
            key, secret = self.add_key(account_id or self._demo_account(), kind=kind)
            return {"api_key": key, "api_secret": secret}

    def seed_demo(self) -> dict[str, Any]:
        """Load a demo account and return what a tenant needs to connect, and the ids.

        Returns ``{"account_id", "api_key", "api_secret" (a user key),
        "read_only_api_key", "read_only_api_secret" (an account key),
        "organization_ids", "agent_ids", "incident_report_ids",
        "resolvable_incident_id" (sent, every remediation approved),
        "pending_incident_id" (sent, two remediations unapproved: 409 until
        approved), "unsent_incident_id" (closed: 422)}``. Twelve reports, so
        the list has two pages at the default limit of 10.
        """
        with self._lock:
            account_id = self._demo_account()
            approver = self.add_user(account_id, "Dana Reyes", "dana.reyes@patchbay-demo.test")
            key, secret = self.add_key(
                account_id, key=DEMO_API_KEY, secret=DEMO_API_SECRET, user=approver
            )
            ro_key, ro_secret = self.add_key(
                account_id, kind="account", key=DEMO_READ_ONLY_KEY, secret=DEMO_READ_ONLY_SECRET
            )
            contoso = self.add_organization(
                account_id, "Contoso Dental", key="contoso", report_recipients=["it@contoso.test"]
            )
            fabrikam = self.add_organization(
                account_id, "Fabrikam Legal", key="fabrikam", billable_identity_count=18
            )
            northwind = self.add_organization(account_id, "Northwind Traders", key="northwind")
            dc = self.add_agent(
                contoso.id,
                "CONTOSO-DC01",
                os="Windows Server 2022 Standard",
                os_build_version="20348",
                ipv4_address="10.0.0.5",
                tags=["Server", "Domain Controller"],
            )
            laptop = self.add_agent(
                contoso.id, "CONTOSO-LT042", os_build_version="22631", ipv4_address="10.0.0.42"
            )
            mac = self.add_agent(
                fabrikam.id, "FABRIKAM-MBP07", platform="darwin", ipv4_address="10.1.0.7"
            )
            nas = self.add_agent(
                fabrikam.id, "fabrikam-nas", platform="linux", ipv4_address="10.1.0.20"
            )
            pos = self.add_agent(
                northwind.id, "NW-POS-01", os_build_version="19045", ipv4_address="10.2.0.11"
            )
            resolvable = self.add_incident_report(
                dc.id,
                severity="high",
                indicators={"footholds": 1},
                summary="Huntress detected a malicious scheduled task on this host. "
                "We recommend removing the file and scheduled task listed below.",
                created_ago=5400,
            )
            self.add_remediation(
                resolvable.id,
                action="Delete Scheduled Task",
                status="approved",
                approved_by=approver.id,
            )
            self.add_remediation(
                resolvable.id,
                type="assisted",
                action="Delete File",
                status="completed",
                parameters=[r"c:\windows\system32\tasks\malicious_task"],
                approved_by=approver.id,
            )
            pending = self.add_incident_report(
                laptop.id,
                severity="critical",
                indicators={"ransomware_canaries": 2, "process_detections": 1},
                summary="Ransomware canary files were modified by an unsigned process.",
                created_ago=1800,
            )
            self.add_remediation(
                pending.id,
                type="containment",
                action="Isolate Host",
                status="approved",
                parameters=["CONTOSO-LT042"],
                approved_by=approver.id,
            )
            self.add_remediation(
                pending.id,
                type="assisted",
                action="Kill Process",
                parameters=[r"c:\users\public\svch0st.exe"],
            )
            self.add_remediation(pending.id, action="Reset the user's password")
            unsent = self.add_incident_report(
                mac.id,
                severity="low",
                status="closed",
                indicators={"monitored_files": 1},
                summary="A persistent launch agent was added by an unknown installer.",
                created_ago=86_400 * 3,
            )
            self.add_remediation(
                unsent.id, action="Remove Launch Agent", status="completed", approved_by=approver.id
            )
            many = self.add_incident_report(
                dc.id,
                severity="high",
                status="closed",
                indicators={"antivirus_detections": 12},
                summary="Defender quarantined twelve copies of a credential stealer.",
                created_ago=86_400 * 6,
            )
            for n in range(12):
                self.add_remediation(
                    many.id,
                    type="assisted",
                    action="Delete File",
                    status="completed",
                    parameters=[rf"c:\users\public\stealer_{n:02d}.exe"],
                    approved_by=approver.id,
                )
            others = [
                self.add_incident_report(
                    agent.id,
                    severity=severity,
                    status=status,
                    indicators=indicators,
                    summary=summary,
                    created_ago=ago,
                )
                for agent, severity, status, indicators, summary, ago in (
                    (nas, "low", "dismissed", {"footholds": 1}, "Benign cron job.", 86_400 * 9),
                    (pos, "high", "partner_dismissed", {"mde_detections": 1}, "PUA.", 86_400 * 8),
                    (laptop, "high", "auto_remediating", {"process_detections": 1}, "LOLBin.", 600),
                    (pos, "low", "sent", {"behavioral_detections": 1}, "Odd logon hours.", 7200),
                    (mac, "critical", "closed", {"managed_identity": 1}, "Token theft.", 86_400),
                    (dc, "low", "dismissed", {"app_control": 1}, "Blocked installer.", 86_400 * 2),
                    (nas, "high", "closed", {"siem_detections": 3}, "SSH brute force.", 86_400 * 4),
                    (pos, "low", "deleting", {"footholds": 1}, "Duplicate report.", 86_400 * 5),
                )
            ]
            reports = [resolvable, pending, unsent, many, *others]
            return {
                "account_id": account_id,
                "api_key": key,
                "api_secret": secret,
                "read_only_api_key": ro_key,
                "read_only_api_secret": ro_secret,
                "organization_ids": [contoso.id, fabrikam.id, northwind.id],
                "agent_ids": [dc.id, laptop.id, mac.id, nas.id, pos.id],
                "incident_report_ids": [r.id for r in reports],
                "resolvable_incident_id": resolvable.id,
                "pending_incident_id": pending.id,
                "unsent_incident_id": unsent.id,
            }


def _body(req: SandboxRequest) -> dict[str, Any]:
    return req.body if isinstance(req.body, dict) else {}
