"""HuntressClient: Huntress's REST API v1 (``/v1/...``), HTTP Basic with an API key and secret.

What the vendor's spec documents (``vendor-specs/oas3/huntress.json``, its
"API Overview"; vendors.md §3):

- every request carries ``Authorization: Basic base64(<key>:<secret>)``;
  POSTs without a body carry no ``Content-Type``. A wrong key or secret is
  401; the default *account* key is read-only, so resolving a report or
  approving or rejecting remediations needs a *user-based* key with that
  permission (403 otherwise); 404 is "it does not exist, or your account
  does not hold correct permissions to access it";
- a single resource comes wrapped in its singular name (``{"account"}``,
  ``{"incident_report"}``, ``{"agent"}``; a bare account is read too, as
  the reference does); a list as ``{"<plural>": [...], "pagination":
  {"next_page_token", "next_page_url"}}`` with ``limit`` 1 to 500 and
  ``page_token``: the token is there only when another page is. The client
  asks for no more than the action still needs (``limit=min(500, missing)``)
  and stops once the action's own limit is met, on the last page, on an
  empty page, or on a token it was already given;
- 60 requests a minute per account, on a sliding window, and a 429 names
  no ``Retry-After``. The executor's throttle keeps every worker's requests
  under that budget (``Vendor.rate_limit``); a 429 all the same (another
  tool using the same account) goes up the shared ladder as ``Throttled``
  for the window this client declares (``rate_window``): the step is
  re-scheduled without holding a worker and without counting an attempt,
  never slept on and never guessed at 10 s.

The key and secret are a header, never part of a URL or a message, and were
read through the action context, which redacts them from whatever a step
records.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from actionkit.context import RequestGate
from actionkit.errors import (
    ActionFailure,
    Conflict,
    IntegrationMisconfigured,
    NotFound,
    PermissionDenied,
    VendorDetail,
    VendorError,
)
from actionkit.http import VendorClient, instance_root
from actionkit.outbound import HostRules, OutboundPolicy
from actionkit.ratelimit import RateLimit
from integrations.huntress.models import (
    PAGE_MAX,
    WireAccount,
    WireAgent,
    WireIncidentReport,
    WireOrganization,
    WireRemediation,
)

PROVIDER = "huntress"
LABEL = "Huntress"
API_KEY_NAME = "huntress_api_key"
API_SECRET_NAME = "huntress_api_secret"
DEFAULT_BASE_URL = "https://api.huntress.io"
# Huntress's one API host; another needs --allow-custom-host.
HOSTS = HostRules(known=("api.huntress.io",))
# The spec's "Rate Limits": 60 requests per minute per account, sliding window.
RATE_LIMIT = "60/m"
MAKE_A_KEY = (
    "create a user-based key pair in Huntress under API Credentials "
    "(<subdomain>.huntress.io/account/api_credentials)"
)
RECONNECT = (
    f"patchbay connect {PROVIDER} --secret {API_KEY_NAME}=... --secret {API_SECRET_NAME}=@file"
)

ACCOUNT_PATH = "/v1/account"
INCIDENTS_PATH = "/v1/incident_reports"
ORGANIZATIONS_PATH = "/v1/organizations"
AGENTS_PATH = "/v1/agents"

_M = TypeVar("_M", bound=BaseModel)


def normalize_base_url(raw: str | None) -> str:
    """The API root: the connection's URL (https by default, no trailing ``/`` or ``/v1``).

    None or blank is Huntress's own ``https://api.huntress.io``.
    """
    return instance_root(
        (raw or "").strip() or DEFAULT_BASE_URL,
        vendor=LABEL,
        example=DEFAULT_BASE_URL,
        strip_suffixes=("/v1",),
    )


def incident_path(incident_id: int, *rest: str) -> str:
    """``/v1/incident_reports/{id}[/rest...]``."""
    return "/".join((INCIDENTS_PATH, str(incident_id), *rest))


class HuntressClient(VendorClient):
    """One Huntress account, authenticated with its API key and secret."""

    vendor = LABEL
    throttle_key = PROVIDER
    # A sliding window lets a request in once the oldest counted one is a whole
    # window old, and one exactly that old still counts (the spec's example:
    # "at least until the time has passed T65"): wait the window plus the
    # throttle's transit margin.
    rate_window = RateLimit.parse(RATE_LIMIT).send_window

    def __init__(
        self,
        base_url: str | None,
        *,
        api_key: SecretStr,
        api_secret: SecretStr,
        policy: OutboundPolicy,
        transport: httpx.BaseTransport | None = None,
        gate: RequestGate | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            normalize_base_url(base_url),
            policy=policy,
            transport=transport,
            gate=gate,
            timeout=timeout,
            clock=clock,
        )
        pair = f"{api_key.get_secret_value()}:{api_secret.get_secret_value()}"
        self._authorization = SecretStr("Basic " + base64.b64encode(pair.encode()).decode())

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": self._authorization.get_secret_value()}

    def error_for(self, response: httpx.Response, *, mutating: bool = False) -> ActionFailure:
        """The shared ladder, with a 401 naming both secrets to replace."""
        error = super().error_for(response, mutating=mutating)
        if response.status_code == 401 and isinstance(error, IntegrationMisconfigured):
            said = error.vendor.message if error.vendor is not None else ""
            return IntegrationMisconfigured(
                f"Huntress rejected the API key and secret (401: {said}); {MAKE_A_KEY} and "
                f"store both with {RECONNECT}",
                vendor=error.vendor,
                details={"secrets": [API_KEY_NAME, API_SECRET_NAME]},
            )
        return error

    # -- decoding -------------------------------------------------------------------

    def _unexpected(self, path: str, what: str) -> VendorError:
        return VendorError(
            f"Huntress answered {path} with an unexpected {what}",
            vendor=VendorDetail(200, "unexpected response body"),
        )

    def _model(self, model: type[_M], data: Any, path: str, what: str) -> _M:
        try:
            return model.model_validate(data)
        except ValidationError:
            raise self._unexpected(path, what) from None

    def _one(self, model: type[_M], data: Any, key: str, path: str) -> _M:
        """``{key: {...}}`` (Huntress's singular case) as ``model``."""
        inner = data.get(key) if isinstance(data, dict) else None
        if not isinstance(inner, dict):
            raise self._unexpected(path, key.replace("_", " "))
        return self._model(model, inner, path, key.replace("_", " "))

    def _get_one(self, model: type[_M], path: str, key: str, missing: str) -> _M:
        """``GET path`` unwrapped from ``key``; a 404 is NOT_FOUND saying ``missing``."""
        try:
            data = self.request_json("GET", path)
        except NotFound as exc:
            raise NotFound(missing, vendor=exc.vendor, details=exc.details) from None
        return self._one(model, data, key, path)

    def collect(
        self,
        path: str,
        plural: str,
        model: type[_M],
        *,
        limit: int,
        params: Mapping[str, Any] | None = None,
        keep: Callable[[_M], bool] | None = None,
    ) -> list[_M]:
        """Up to ``limit`` items of a token-paged list, following ``next_page_token``.

        Each page asks for what is still missing (at most 500); with ``keep``
        (a filter Huntress cannot apply) every page asks for 500, since how
        many will be kept is not known.
        """
        found: list[_M] = []
        token: str | None = None
        seen: set[str] = set()
        while len(found) < limit:
            size = PAGE_MAX if keep is not None else min(PAGE_MAX, limit - len(found))
            data = self.request_json(
                "GET", path, params={**(params or {}), "limit": size, "page_token": token}
            )
            items = data.get(plural) if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise self._unexpected(path, f"{plural} page")
            for item in items:
                row = self._model(model, item, path, plural)
                if keep is None or keep(row):
                    found.append(row)
            pagination = data.get("pagination") if isinstance(data, dict) else None
            token = pagination.get("next_page_token") if isinstance(pagination, dict) else None
            if not items or not isinstance(token, str) or not token or token in seen:
                break
            seen.add(token)
        return found[:limit]

    # -- reads ------------------------------------------------------------------------

    def account(self) -> WireAccount:
        """``GET /v1/account``: the account the key belongs to (wrapped, or bare)."""
        data = self.request_json("GET", ACCOUNT_PATH)
        if isinstance(data, dict) and isinstance(data.get("account"), dict):
            data = data["account"]
        if not isinstance(data, dict):
            raise self._unexpected(ACCOUNT_PATH, "account")
        return self._model(WireAccount, data, ACCOUNT_PATH, "account")

    def incident_report(self, incident_id: int) -> WireIncidentReport:
        """``GET /v1/incident_reports/{id}``."""
        return self._get_one(
            WireIncidentReport,
            incident_path(incident_id),
            "incident_report",
            f"Huntress incident report {incident_id} not found",
        )

    def incident_reports(self, filters: Mapping[str, Any], limit: int) -> list[WireIncidentReport]:
        """``GET /v1/incident_reports``, most recently updated first, up to ``limit``."""
        params = {**filters, "sort_field": "updated_at", "sort_direction": "desc"}
        return self.collect(
            INCIDENTS_PATH, "incident_reports", WireIncidentReport, limit=limit, params=params
        )

    def remediations(
        self,
        incident_id: int,
        *,
        limit: int,
        statuses: list[str] | None = None,
        types: list[str] | None = None,
    ) -> list[WireRemediation]:
        """``GET .../remediations`` (the spec's ``statuses[]``/``types[]``, comma-separated)."""
        params = {
            "statuses[]": ",".join(statuses) if statuses else None,
            "types[]": ",".join(types) if types else None,
        }
        try:
            return self.collect(
                incident_path(incident_id, "remediations"),
                "remediations",
                WireRemediation,
                limit=limit,
                params=params,
            )
        except NotFound as exc:
            raise NotFound(
                f"Huntress incident report {incident_id} not found", vendor=exc.vendor
            ) from None

    def organizations(
        self, limit: int, keep: Callable[[WireOrganization], bool] | None = None
    ) -> list[WireOrganization]:
        """``GET /v1/organizations`` in Huntress's order, up to ``limit`` that ``keep`` keeps."""
        return self.collect(
            ORGANIZATIONS_PATH, "organizations", WireOrganization, limit=limit, keep=keep
        )

    def agent(self, agent_id: int) -> WireAgent:
        """``GET /v1/agents/{id}``."""
        return self._get_one(
            WireAgent, f"{AGENTS_PATH}/{agent_id}", "agent", f"Huntress agent {agent_id} not found"
        )

    # -- writes -----------------------------------------------------------------------

    def _write(
        self, path: str, incident_id: int, what: str, permission: str, json: Any = None
    ) -> Any:
        """``POST path``; the refusals Huntress documents for it, worded for ``what``.

        403: the key may not (the default account key is read-only); 404: no
        such report; 409/422: the report's state does not allow it (the
        caller adds what it knows of that state).
        """
        try:
            return self.request_json("POST", path, json=json)
        except ActionFailure as exc:
            status = exc.vendor.status if exc.vendor is not None else None
            said = f" ({status}: {exc.vendor.message})" if exc.vendor is not None else ""
            if status == 403:
                raise PermissionDenied(
                    f"Huntress refused to {what} incident report {incident_id}{said}: the "
                    "default account API key is read-only. Use a user-based API key with "
                    f"permission to {permission}, stored with {RECONNECT}",
                    vendor=exc.vendor,
                    details={"incident_id": incident_id},
                ) from None
            if status == 404:
                raise NotFound(
                    f"Huntress incident report {incident_id} not found",
                    vendor=exc.vendor,
                    details={"incident_id": incident_id},
                ) from None
            if status in (409, 422):
                raise Conflict(
                    f"Huntress refused to {what} incident report {incident_id}{said}",
                    vendor=exc.vendor,
                    details={"incident_id": incident_id},
                ) from None
            raise

    def resolve(self, incident_id: int) -> WireIncidentReport | None:
        """``POST .../resolution`` (no body): the report after, if Huntress sent it back."""
        path = incident_path(incident_id, "resolution")
        data = self._write(path, incident_id, "resolve", "resolve incident reports")
        if isinstance(data, dict) and isinstance(data.get("incident_report"), dict):
            return self._one(WireIncidentReport, data, "incident_report", path)
        return None

    def approve_remediations(self, incident_id: int) -> WireIncidentReport | None:
        """``POST .../remediations/bulk_approval`` (no body): every unapproved one is approved.

        Idempotent at Huntress: with nothing left to approve it changes nothing.
        """
        path = incident_path(incident_id, "remediations", "bulk_approval")
        data = self._write(path, incident_id, "approve the remediations of", "write remediations")
        if isinstance(data, dict) and isinstance(data.get("incident_report"), dict):
            return self._one(WireIncidentReport, data, "incident_report", path)
        return None

    def reject_remediations(self, incident_id: int, body: Mapping[str, Any]) -> None:
        """``POST .../remediations/bulk_rejection`` with the spec's ``{comment, useful, ...}``."""
        path = incident_path(incident_id, "remediations", "bulk_rejection")
        self._write(
            path, incident_id, "reject the remediations of", "write remediations", dict(body)
        )
