"""FakeNinjaOne: a stateful NinjaOne instance (OAuth token endpoint + public API v2).

Sources: the vendor's OpenAPI 3.0.1 spec (``ninjaone-public-api-v2.yml``,
"NinjaOne Public API 2.0" 2.0.9-draft) and its RFC 8414 metadata
(``ninjaone-oauth-authorization-server.json``). Where the spec is silent
the choices are marked *(choice)* below; error bodies not in the spec are
the shapes NinjaOne is reported to return (see "Errors").

The base URL is the instance root (``http://127.0.0.1:PORT``); the API is
under ``/v2/...`` and OAuth under ``/ws/oauth/...``. All timestamps the API
returns are epoch **seconds** as floats (:meth:`FakeVendor.epoch`).

OAuth (``POST /ws/oauth/token``, form-encoded)
----------------------------------------------
Client authentication: ``client_secret_basic`` (HTTP Basic) or
``client_secret_post`` (``client_id`` + ``client_secret`` in the form), not
both. Grants:

- ``refresh_token`` (``refresh_token=``, optional narrower ``scope=``):
  refresh tokens ROTATE: the answer carries a new ``refresh_token`` and the
  one presented stops working at once;
- ``client_credentials`` (optional ``scope=``, default ``monitoring``): no
  refresh token, and the access token has **no user context**;
- ``authorization_code`` (``code=``, ``redirect_uri=``): codes come from
  :meth:`FakeNinjaOne.issue_authorization_code`, single use, 10 minutes.

Success: 200 ``{"access_token", "token_type": "Bearer", "expires_in": <int
seconds>, "scope": "monitoring management control", "refresh_token"?}`` with
``Cache-Control: no-store``. Errors (RFC 6749 shape ``{"error",
"error_description"}``): 400 ``invalid_request`` (not a form, missing
parameter, two auth methods), 401 ``invalid_client`` (unknown client or wrong
secret; ``WWW-Authenticate: Basic`` when Basic was used), 400 ``invalid_grant``
(unknown, used, rotated, revoked or another client's refresh token or code),
400 ``unauthorized_client``, ``unsupported_grant_type``, ``invalid_scope``.
``POST /ws/oauth/revoke`` (RFC 7009, ``token=``, client auth) -> 200, empty.

Scopes *(choice)*: ``GET`` under ``/v2`` needs ``monitoring``; any other
method needs ``management``.

API (every ``/v2`` call needs ``Authorization: Bearer <access token>``)
--------------------------------------------------------------------
- ``GET /v2/devices?df=&pageSize=&after=`` -> ``[NodeWithDetailedReferences]``,
  ascending ``id``; ``after`` = last device id of the previous page; no
  ``pageSize`` = every device *(choice)*; the last page is the first one
  shorter than ``pageSize``. ``GET /v2/devices-detailed`` the same, as ``[Device]``.
- ``GET /v2/device/{id}`` -> ``Device`` (plus ``os: {name, architecture,
  lastBootTime, needsReboot}``, which the real API returns but the spec's
  Device schema does not declare).
- ``GET /v2/device/{id}/scripting/options`` -> ``{"categories": [{id, name,
  internal}], "scripts": [...], "credentials": {"roles": [...], "credentials":
  [{id, name, type}]}}``. Custom scripts and built-in actions are both in
  ``scripts``: ``{"type": "SCRIPT", "id", "name", "language", "description",
  "architecture", "categoryId"}`` and ``{"type": "ACTION", "uid", "name",
  "description", "architecture", "categoryId"}`` (the spec: ``id`` identifies
  scripts, ``uid`` built-in actions). Offered: items whose operating systems
  include the device's (``WINDOWS_*`` -> WINDOWS, ``MAC``/``MAC_SERVER`` ->
  MAC, ``LINUX_*`` -> LINUX; other node classes get none). Roles are the
  spec's ``runAs`` spellings (``PolicyConditionScript.runAs``): WINDOWS
  ``SYSTEM, LOGGED_ON_USER, LOCAL_ADMIN, DOMAIN_ADMIN``; MAC ``SYSTEM,
  LOGGED_ON_USER, PREFERRED_CREDENTIAL_MAC``; LINUX ``SYSTEM, LOGGED_ON_USER,
  PREFERRED_CREDENTIAL_LINUX``.
- ``POST /v2/device/{id}/script/run`` with ``RunScriptRequest {type, id, uid,
  parameters, runAs}`` -> **204, empty body** *(choice; the spec declares no
  schema)*. Checked in this order: user context (403), device (404), body is
  a JSON object, ``type`` present and ``SCRIPT``/``ACTION``, ``id`` (int,
  SCRIPT) / ``uid`` (string, ACTION) present (400), the script/action exists
  (404) and is offered for the device (400), ``parameters`` a string of at
  most 30,000 characters, ``runAs`` one of the device's roles or the id of an
  offered credential (as a string) (400). Omitted ``runAs`` means SYSTEM.
- ``GET /v2/device/{id}/jobs`` -> ``[Job]``: script runs still in progress
  (``uid`` = the run's series uid, ``jobStatus: IN_PROCESS``, ``jobType:
  ACTION`` *(choice)*).
- ``GET /v2/device/{id}/activities?olderThan=&newerThan=&activityType=&status=
  &seriesUid=&pageSize=`` -> ``{"lastActivityId", "activities": [Activity]}``,
  newest first. ``olderThan=N`` keeps ids < N and ``newerThan=N`` ids > N
  (the spec's descriptions of the two are swapped; the names win); ``status``
  is a comma-separated list of ``statusCode`` values; ``pageSize`` 10..1000,
  default 200 (the spec's bounds; outside -> 400). ``lastActivityId`` is the
  id of the oldest activity on the page (pass it as ``olderThan`` for the
  next page), absent when the page is empty.
- ``POST /v2/device/{id}/reboot/{mode}`` (``NORMAL``/``FORCED``, else 400),
  optional body ``{"reason": str}`` -> 204, recorded in ``reboots``; after
  ``reboot_delay`` a ``SYSTEM``/``SYSTEM_REBOOTED`` activity appears.
- ``GET /v2/alerts?sourceType=&df=`` -> ``[Alert]`` active alerts, each with
  ``device`` (NodeWithDetailedReferences); no pagination (as in the spec);
  ``lang``/``tz`` accepted and ignored. ``GET /v2/device/{id}/alerts`` likewise.
- ``POST /v2/alert/{uid}/reset`` (optional JSON object body) and
  ``DELETE /v2/alert/{uid}`` -> 204; the alert leaves the active list;
  unknown or already reset -> 404.

How a script run shows up (the correlation contract)
----------------------------------------------------
A run gets a *series uid*. At once an activity with that ``seriesUid``,
``activityType: ACTION``, ``statusCode: START_REQUESTED`` appears; after
``script_result_delay`` seconds on the fake's clock a second one with the
same ``seriesUid`` and ``statusCode: COMPLETED``, ``activityResult`` (SUCCESS
or FAILURE), ``message`` = the script's output, ``sourceName`` = the
script/action name, ``sourceConfigUid`` = its uid, ``userId`` = the caller, and
``data: {"scriptType", "scriptId" | "actionUid", "runAs", "exitCode",
"output"}``. The run response has no body, so a client learns the series uid
from ``/jobs`` or matches on device + ``sourceName``/``data.scriptId`` +
``statusCode`` among activities newer than the newest id it saw before the
run (``newerThan``). Activity ids increase in the order activities appear.
:attr:`FakeNinjaOne.script_runs` exposes the series uid to tests.

Errors
------
- Missing or unknown/expired/revoked access token: 401 ``{"error":
  "not_authenticated", "error_description": "Invalid credentials",
  "error_code": 10}`` (expired: ``"Access token has expired"``), with
  ``WWW-Authenticate: Bearer``. Malformed ``Authorization`` (not ``Bearer
  <token>``): 400 ``{"error": "invalid_header", "error_description": "Invalid
  'Authorization' header", "error_code": 1}``.
- Token lacks the scope: 401 ``{"error": "insufficient_privileges",
  "error_description": ...}`` (NinjaOne answers 401 here, not 403).
- Script run with a client-credentials token: 403 ``{"error":
  "user_context_required", "error_description": "Access key does not have
  user context which is required for this request", "error_code": 5}``.
- Anything else: ``{"resultCode": <code>, "errorMessage": <text>,
  "incidentId": "WEB-<n>"}``: 400 ``FAILURE`` (validation), 404
  ``NOT_FOUND`` (device, script, alert). Unknown routes: 404 / 405 with
  ``resultCode: FAILURE`` and ``errorMessage: "HTTP 404 Not Found"`` /
  ``"HTTP 405 Method Not Allowed"``.

No error body ever contains an access/refresh token or a client secret.

``df`` (device filter) support
------------------------------
Clauses joined with ``AND`` (case-insensitive): ``online``, ``offline``,
``<key> = v``, ``<key> != v``, ``<key> in (v1,v2)``, ``<key> notin (v1,v2)``
with keys ``id``, ``org``, ``loc``, ``role``, ``policy`` (integers) and
``class``, ``status`` (node class, approval status). Anything else is 400
``FAILURE`` "Invalid device filter", so a client that passes free text as
``df`` finds out here rather than in production.

Not modelled: offline devices run scripts and reboot like online ones;
no rate limit (inject a 429 :class:`~sandbox.core.Fault` instead).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx

from sandbox.core import FakeVendor, SandboxRequest, empty_response, json_response, route

__all__ = ["AlertReset", "FakeNinjaOne", "Reboot", "ScriptRun"]

SCOPES = ("monitoring", "management", "control")
GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")
MAX_PARAMETERS = 30_000
ACTIVITY_PAGE_MIN, ACTIVITY_PAGE_MAX, ACTIVITY_PAGE_DEFAULT = 10, 1000, 200
REBOOT_MODES = ("NORMAL", "FORCED")
_CODE_TTL = 600.0

_ROLES = {
    "WINDOWS": ("SYSTEM", "LOGGED_ON_USER", "LOCAL_ADMIN", "DOMAIN_ADMIN"),
    "MAC": ("SYSTEM", "LOGGED_ON_USER", "PREFERRED_CREDENTIAL_MAC"),
    "LINUX": ("SYSTEM", "LOGGED_ON_USER", "PREFERRED_CREDENTIAL_LINUX"),
}
_DEFAULT_OS = {
    "WINDOWS_WORKSTATION": "Windows 11 Pro Edition",
    "WINDOWS_SERVER": "Windows Server 2022 Standard Edition",
    "MAC": "macOS Sonoma",
    "MAC_SERVER": "macOS Sonoma",
    "LINUX_WORKSTATION": "Ubuntu 22.04.4 LTS",
    "LINUX_SERVER": "Ubuntu 22.04.4 LTS",
}
# Properties of the spec's NodeWithDetailedReferences (what /v2/devices returns).
_NODE_FIELDS = (
    "id",
    "uid",
    "assignedOwnerUid",
    "parentDeviceId",
    "organizationId",
    "locationId",
    "nodeClass",
    "nodeRoleId",
    "rolePolicyId",
    "policyId",
    "approvalStatus",
    "offline",
    "displayName",
    "systemName",
    "dnsName",
    "netbiosName",
    "created",
    "lastContact",
    "lastUpdate",
    "userData",
    "tags",
    "fields",
    "maintenance",
    "references",
)


def os_family(node_class: str) -> str | None:
    """WINDOWS, MAC or LINUX for node classes that run scripts, else None."""
    if node_class.startswith("WINDOWS_"):
        return "WINDOWS"
    if node_class in ("MAC", "MAC_SERVER"):
        return "MAC"
    if node_class.startswith("LINUX_"):
        return "LINUX"
    return None


@dataclass(frozen=True)
class ScriptRun:
    """A script or built-in action run the fake accepted."""

    device_id: int
    type: str
    script_id: int | None
    action_uid: str | None
    name: str
    parameters: str | None
    run_as: str
    user_id: int
    series_uid: str
    requested_at: float
    completes_at: float
    result: str
    output: str
    exit_code: int


@dataclass(frozen=True)
class Reboot:
    """A reboot the fake accepted."""

    device_id: int
    mode: str
    reason: str | None
    user_id: int | None
    requested_at: float


@dataclass(frozen=True)
class AlertReset:
    """An alert reset the fake accepted (``method`` is POST or DELETE)."""

    uid: str
    method: str
    body: Any
    requested_at: float


@dataclass
class _Client:
    client_id: str
    secret: str
    scopes: tuple[str, ...]
    grant_types: frozenset[str]


@dataclass
class _Grant:
    client_id: str
    user_id: int | None
    scopes: tuple[str, ...]
    expires_at: float | None = None
    redirect_uri: str | None = None


@dataclass
class _Script:
    type: str
    script_id: int | None
    uid: str
    name: str
    language: str | None
    description: str
    architecture: tuple[str, ...]
    category_id: int | None
    operating_systems: frozenset[str]
    output: str
    result: str
    exit_code: int

    def view(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        if self.type == "SCRIPT":
            data["id"] = self.script_id
        else:
            data["uid"] = self.uid
        data["name"] = self.name
        if self.language is not None:
            data["language"] = self.language
        data["description"] = self.description
        data["architecture"] = list(self.architecture)
        if self.category_id is not None:
            data["categoryId"] = self.category_id
        return data


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    activity: dict[str, Any] = field(compare=False)


class _BadFilter(ValueError):
    pass


_DF_KEYS = {
    "id": ("id", int),
    "org": ("organizationId", int),
    "loc": ("locationId", int),
    "role": ("nodeRoleId", int),
    "policy": ("policyId", int),
    "class": ("nodeClass", str),
    "status": ("approvalStatus", str),
}
_DF_COMPARE = re.compile(r"^(?P<key>[a-z]+)\s*(?P<op>!=|=)\s*(?P<value>[^\s(),]+)$", re.I)
_DF_IN = re.compile(r"^(?P<key>[a-z]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$", re.I)


def parse_device_filter(df: str) -> Callable[[Mapping[str, Any]], bool]:
    """Compile the supported subset of NinjaOne's ``df`` syntax into a predicate.

    Raises ``ValueError`` for anything outside it (see the module docstring).
    """
    predicates: list[Callable[[Mapping[str, Any]], bool]] = []
    for raw in re.split(r"\s+and\s+", df.strip(), flags=re.I):
        clause = raw.strip()
        if clause.lower() in ("online", "offline"):
            predicates.append(_offline_is(clause.lower() == "offline"))
            continue
        compare, member = _DF_COMPARE.match(clause), _DF_IN.match(clause)
        match = compare or member
        if match is None or match["key"].lower() not in _DF_KEYS:
            raise _BadFilter(clause)
        prop, kind = _DF_KEYS[match["key"].lower()]
        raw_values = [match["value"]] if compare else match["values"].split(",")
        try:
            values = {kind(v.strip()) for v in raw_values if v.strip()}
        except ValueError as exc:
            raise _BadFilter(clause) from exc
        if not values:
            raise _BadFilter(clause)
        negate = match["op"].lower() in ("!=", "notin")
        predicates.append(_membership(prop, values, negate))
    return lambda device: all(p(device) for p in predicates)


def _offline_is(offline: bool) -> Callable[[Mapping[str, Any]], bool]:
    return lambda device: bool(device.get("offline")) is offline


def _membership(prop: str, values: set[Any], negate: bool) -> Callable[[Mapping[str, Any]], bool]:
    return lambda device: (device.get(prop) in values) is not negate


class FakeNinjaOne(FakeVendor):
    """A stateful NinjaOne instance; see the module docstring for its API.

    ``access_token_ttl``: seconds an access token lives (``expires_in``).
    ``script_result_delay``: seconds until a run's COMPLETED activity appears.
    ``reboot_delay``: seconds until a reboot's SYSTEM_REBOOTED activity appears.
    """

    def __init__(
        self,
        *,
        access_token_ttl: float = 3600.0,
        script_result_delay: float = 2.0,
        reboot_delay: float = 0.0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        epoch_origin: float | None = None,
    ) -> None:
        super().__init__(clock=clock, sleep=sleep, epoch_origin=epoch_origin)
        self.access_token_ttl = access_token_ttl
        self.script_result_delay = script_result_delay
        self.reboot_delay = reboot_delay
        self._clients: dict[str, _Client] = {}
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._codes: dict[str, _Grant] = {}
        self._organizations: dict[int, dict[str, Any]] = {}
        self._locations: dict[int, dict[str, Any]] = {}
        self._devices: dict[int, dict[str, Any]] = {}
        self._categories: dict[int, dict[str, Any]] = {}
        self._scripts: dict[int, _Script] = {}
        self._actions: dict[str, _Script] = {}
        self._credentials: dict[int, dict[str, Any]] = {}
        self._alerts: dict[str, dict[str, Any]] = {}
        self._reset_alerts: set[str] = set()
        self._activities: list[dict[str, Any]] = []
        self._pending: list[_Pending] = []
        self._seq = 0
        self._incidents = 0
        self._script_runs: list[ScriptRun] = []
        self._reboots: list[Reboot] = []
        self._alert_resets: list[AlertReset] = []

    # -- seeding: OAuth -------------------------------------------------------

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        *,
        scopes: Iterable[str] = SCOPES,
        grant_types: Iterable[str] = GRANT_TYPES,
    ) -> None:
        """Register an API client app with the scopes and grants it may use."""
        scope_tuple = tuple(scopes)
        if set(scope_tuple) - set(SCOPES):
            raise ValueError(f"scopes must be among {SCOPES}")
        with self._lock:
            self._clients[client_id] = _Client(
                client_id, client_secret, scope_tuple, frozenset(grant_types)
            )

    def _grant_scopes(self, client_id: str, scope: Iterable[str] | None) -> tuple[str, ...]:
        client = self._clients.get(client_id)
        if client is None:
            raise KeyError(f"unknown client {client_id!r}")
        wanted = client.scopes if scope is None else tuple(scope)
        if set(wanted) - set(client.scopes):
            raise ValueError("scope exceeds the client's scopes")
        return wanted

    def issue_refresh_token(
        self, client_id: str, *, user_id: int = 1, scope: Iterable[str] | None = None
    ) -> str:
        """A refresh token for ``client_id`` on behalf of user ``user_id``.

        What a tenant's stored NinjaOne credentials hold after the
        authorization-code flow. ``scope`` defaults to all of the client's.
        """
        with self._lock:
            token = secrets.token_urlsafe(32)
            self._refresh[token] = _Grant(client_id, user_id, self._grant_scopes(client_id, scope))
            return token

    def issue_access_token(
        self,
        client_id: str,
        *,
        user_id: int | None = 1,
        scope: Iterable[str] | None = None,
        ttl: float | None = None,
    ) -> str:
        """An access token without the token dance (``user_id=None``: no user context)."""
        with self._lock:
            return self._new_access(
                client_id, user_id, self._grant_scopes(client_id, scope), ttl=ttl
            )

    def issue_authorization_code(
        self,
        client_id: str,
        *,
        user_id: int = 1,
        scope: Iterable[str] | None = None,
        redirect_uri: str | None = None,
    ) -> str:
        """An authorization code, as if a user had just approved the client."""
        with self._lock:
            code = secrets.token_urlsafe(24)
            self._codes[code] = _Grant(
                client_id,
                user_id,
                self._grant_scopes(client_id, scope),
                expires_at=self.clock() + _CODE_TTL,
                redirect_uri=redirect_uri,
            )
            return code

    def revoke_refresh_token(self, token: str) -> None:
        """Make ``token`` unusable (as if the user disconnected the app)."""
        with self._lock:
            self._refresh.pop(token, None)

    def revoke_access_token(self, token: str) -> None:
        """Make ``token`` unusable before it expires."""
        with self._lock:
            self._access.pop(token, None)

    def expire_access_tokens(self) -> None:
        """Expire every access token issued so far (refresh tokens still work)."""
        with self._lock:
            now = self.clock()
            for grant in self._access.values():
                grant.expires_at = now

    def refresh_token_valid(self, token: str) -> bool:
        """Whether ``token`` would be accepted by the refresh grant now."""
        with self._lock:
            return token in self._refresh

    def _new_access(
        self, client_id: str, user_id: int | None, scopes: tuple[str, ...], ttl: float | None = None
    ) -> str:
        token = secrets.token_urlsafe(32)
        life = self.access_token_ttl if ttl is None else ttl
        self._access[token] = _Grant(client_id, user_id, scopes, expires_at=self.clock() + life)
        return token

    # -- seeding: inventory ---------------------------------------------------

    def add_organization(self, organization_id: int, name: str) -> dict[str, Any]:
        """An organization, shown in devices' ``references.organization``."""
        with self._lock:
            org = {"id": organization_id, "name": name}
            self._organizations[organization_id] = org
            return dict(org)

    def add_location(self, location_id: int, name: str) -> dict[str, Any]:
        """A location, shown in devices' ``references.location``."""
        with self._lock:
            loc = {"id": location_id, "name": name}
            self._locations[location_id] = loc
            return dict(loc)

    def add_device(
        self,
        system_name: str,
        *,
        device_id: int | None = None,
        display_name: str | None = None,
        organization_id: int = 1,
        location_id: int = 1,
        node_class: str = "WINDOWS_WORKSTATION",
        offline: bool = False,
        dns_name: str | None = None,
        os_name: str | None = None,
        approval_status: str = "APPROVED",
        last_contact: float | None = None,
        tags: Iterable[str] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add a device and return it as ``GET /v2/device/{id}`` shows it.

        ``device_id`` defaults to one more than the highest so far. ``extra``
        sets or overrides any other Device property (spec names, e.g.
        ``{"nodeRoleId": 3, "publicIP": "203.0.113.9"}``).
        """
        with self._lock:
            new_id = device_id if device_id is not None else max(self._devices, default=0) + 1
            if new_id in self._devices:
                raise ValueError(f"device {new_id} exists")
            now = self.epoch()
            device: dict[str, Any] = {
                "id": new_id,
                "uid": str(uuid.uuid4()),
                "organizationId": organization_id,
                "locationId": location_id,
                "nodeClass": node_class,
                "nodeRoleId": 1,
                "rolePolicyId": 1,
                "approvalStatus": approval_status,
                "offline": offline,
                "displayName": display_name or system_name,
                "systemName": system_name,
                "dnsName": dns_name or system_name.lower(),
                "netbiosName": system_name.upper()[:15],
                "created": now - 86_400.0,
                "lastContact": now - (3_600.0 if offline else 30.0)
                if last_contact is None
                else last_contact,
                "lastUpdate": now - (3_600.0 if offline else 30.0),
                "tags": list(tags),
                "ipAddresses": [f"10.0.0.{new_id % 250 + 2}"],
                "macAddresses": [f"00:15:5d:00:{new_id // 256 % 256:02x}:{new_id % 256:02x}"],
                "publicIP": "198.51.100.10",
                "notes": [],
                "deviceType": "AGENT" if os_family(node_class) else "NMS",
            }
            family_os = os_name or _DEFAULT_OS.get(node_class)
            if family_os is not None:
                device["os"] = {
                    "name": family_os,
                    "architecture": "64-bit",
                    "lastBootTime": now - 7 * 86_400.0,
                    "needsReboot": False,
                }
            device.update(extra or {})
            self._devices[new_id] = device
            return self._device_view(device)

    def add_category(
        self, name: str, *, category_id: int | None = None, internal: bool = False
    ) -> dict[str, Any]:
        """A script category, listed in every device's scripting options."""
        with self._lock:
            new_id = (
                category_id if category_id is not None else max(self._categories, default=0) + 1
            )
            category = {"id": new_id, "name": name, "internal": internal}
            self._categories[new_id] = category
            return dict(category)

    def add_script(
        self,
        name: str,
        *,
        script_id: int | None = None,
        language: str = "PowerShell",
        description: str = "",
        category_id: int | None = None,
        architecture: Iterable[str] = ("32", "64"),
        operating_systems: Iterable[str] = ("WINDOWS",),
        output: str = "",
        result: str = "SUCCESS",
        exit_code: int = 0,
    ) -> dict[str, Any]:
        """A custom script (``type: SCRIPT``, by ``id``) and what its runs produce.

        ``operating_systems`` (WINDOWS, MAC, LINUX) decides which devices are
        offered it; ``output``/``result``/``exit_code`` are what every run
        reports in its COMPLETED activity.
        """
        with self._lock:
            new_id = script_id if script_id is not None else max(self._scripts, default=0) + 1
            script = _Script(
                "SCRIPT",
                new_id,
                str(uuid.uuid4()),
                name,
                language,
                description,
                tuple(architecture),
                category_id,
                frozenset(operating_systems),
                output,
                result,
                exit_code,
            )
            self._scripts[new_id] = script
            return script.view()

    def add_action(
        self,
        name: str,
        *,
        uid: str | None = None,
        description: str = "",
        category_id: int | None = None,
        architecture: Iterable[str] = ("32", "64"),
        operating_systems: Iterable[str] = ("WINDOWS", "MAC", "LINUX"),
        output: str = "",
        result: str = "SUCCESS",
        exit_code: int = 0,
    ) -> dict[str, Any]:
        """A built-in action (``type: ACTION``, by ``uid``); see :meth:`add_script`."""
        with self._lock:
            action = _Script(
                "ACTION",
                None,
                uid or str(uuid.uuid4()),
                name,
                None,
                description,
                tuple(architecture),
                category_id,
                frozenset(operating_systems),
                output,
                result,
                exit_code,
            )
            self._actions[action.uid] = action
            return action.view()

    def add_credential(
        self, name: str, *, credential_id: int | None = None, type: str = "BASIC"
    ) -> dict[str, Any]:
        """A stored credential, offered to every device and usable as ``runAs``."""
        with self._lock:
            new_id = (
                credential_id
                if credential_id is not None
                else max(self._credentials, default=0) + 1
            )
            credential = {"id": new_id, "name": name, "type": type}
            self._credentials[new_id] = credential
            return dict(credential)

    def add_alert(
        self,
        device_id: int,
        *,
        message: str,
        source_type: str = "CONDITION_AGENT_CPU",
        source_name: str = "CPU Utilization",
        subject: str | None = None,
        uid: str | None = None,
        create_time: float | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An active alert on ``device_id``; returned as ``GET /v2/alerts`` shows it."""
        with self._lock:
            if device_id not in self._devices:
                raise KeyError(f"no device {device_id}")
            created = self.epoch() if create_time is None else create_time
            alert: dict[str, Any] = {
                "uid": uid or str(uuid.uuid4()),
                "deviceId": device_id,
                "message": message,
                "createTime": created,
                "updateTime": created,
                "sourceType": source_type,
                "sourceConfigUid": str(uuid.uuid4()),
                "sourceName": source_name,
                "subject": subject or source_name,
                "data": dict(data or {}),
            }
            self._alerts[alert["uid"]] = alert
            self._reset_alerts.discard(alert["uid"])
            return self._alert_view(alert)

    def add_activity(self, device_id: int, **fields: Any) -> dict[str, Any]:
        """Append an activity (spec field names) to a device's log now."""
        with self._lock:
            activity = {"deviceId": device_id, "activityTime": self.epoch(), **fields}
            self._schedule(self.clock(), activity)
            self._settle()
            return dict(self._activities[-1])

    def seed_demo(self) -> dict[str, Any]:
        """Load a small demo tenant and return how to reach it.

        Returns ``{"client_id", "client_secret", "refresh_token", "device_ids",
        "script_ids", "action_uids", "alert_uids"}``.
        """
        with self._lock:
            client_id, client_secret = "patchbay-demo-client", "patchbay-demo-secret"
            self.add_client(client_id, client_secret)
            self.add_organization(1, "Contoso Dental")
            self.add_location(1, "Main Office")
            server = self.add_device("CONTOSO-DC01", node_class="WINDOWS_SERVER")
            laptop = self.add_device("CONTOSO-LT042", display_name="Front desk laptop")
            mac = self.add_device("Dr-Mac-Mini", node_class="MAC", offline=True)
            maintenance = self.add_category("Maintenance")
            scripts = [
                self.add_script(
                    "Clear temp files",
                    category_id=maintenance["id"],
                    description="Deletes files older than 7 days from the temp folders.",
                    output="Removed 1,284 files (2.3 GB).",
                ),
                self.add_script(
                    "Collect system logs",
                    language="ShellScript",
                    operating_systems=("MAC", "LINUX"),
                    output="Logs written to /tmp/logs.tar.gz",
                ),
            ]
            action = self.add_action("Flush DNS cache", output="DNS cache flushed.")
            alerts = [
                self.add_alert(server["id"], message="CPU above 90% for 15 minutes"),
                self.add_alert(
                    laptop["id"],
                    message="Disk C: has less than 5% free space",
                    source_type="CONDITION_AGENT_DISK_FREE_SPACE",
                    source_name="Disk free space",
                ),
            ]
            return {
                "client_id": client_id,
                "client_secret": client_secret,
                "refresh_token": self.issue_refresh_token(client_id),
                "device_ids": [server["id"], laptop["id"], mac["id"]],
                "script_ids": [s["id"] for s in scripts],
                "action_uids": [action["uid"]],
                "alert_uids": [a["uid"] for a in alerts],
            }

    # -- inspection -----------------------------------------------------------

    @property
    def script_runs(self) -> list[ScriptRun]:
        """Every accepted script/action run, oldest first."""
        with self._lock:
            return list(self._script_runs)

    @property
    def reboots(self) -> list[Reboot]:
        """Every accepted reboot, oldest first."""
        with self._lock:
            return list(self._reboots)

    @property
    def alert_resets(self) -> list[AlertReset]:
        """Every accepted alert reset, oldest first."""
        with self._lock:
            return list(self._alert_resets)

    def activities(self, device_id: int | None = None) -> list[dict[str, Any]]:
        """Activities visible now (of one device, or all), oldest first."""
        with self._lock:
            self._settle()
            return [
                dict(a) for a in self._activities if device_id is None or a["deviceId"] == device_id
            ]

    def active_alerts(self) -> list[dict[str, Any]]:
        """Alerts not yet reset, as ``GET /v2/alerts`` shows them."""
        with self._lock:
            return [self._alert_view(a) for a in self._active_alerts()]

    # -- errors ---------------------------------------------------------------

    def _api_error(self, status: int, code: str, message: str) -> httpx.Response:
        self._incidents += 1
        return json_response(
            status,
            {"resultCode": code, "errorMessage": message, "incidentId": f"WEB-{self._incidents}"},
        )

    def _bad_request(self, message: str) -> httpx.Response:
        return self._api_error(400, "FAILURE", message)

    def _not_found(self, message: str) -> httpx.Response:
        return self._api_error(404, "NOT_FOUND", message)

    def not_found(self, req: SandboxRequest) -> httpx.Response:
        """Unknown route, as NinjaOne's generic 404."""
        return self._api_error(404, "FAILURE", "HTTP 404 Not Found")

    def method_not_allowed(self, req: SandboxRequest, allowed: list[str]) -> httpx.Response:
        """Known route, wrong method."""
        response = self._api_error(405, "FAILURE", "HTTP 405 Method Not Allowed")
        response.headers["Allow"] = ", ".join(allowed)
        return response

    # -- request pipeline -----------------------------------------------------

    def dispatch(self, req: SandboxRequest) -> httpx.Response:
        """Make due activities visible, authenticate ``/v2`` calls, then route."""
        self._settle()
        if req.path == "/v2" or req.path.startswith("/v2/"):
            refused = self._authorize(req)
            if refused is not None:
                return refused
        return super().dispatch(req)

    def _authorize(self, req: SandboxRequest) -> httpx.Response | None:
        header = req.headers.get("authorization")
        if not header:
            return _unauthenticated("Invalid credentials")
        scheme, _, value = header.strip().partition(" ")
        token = value.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            return json_response(
                400,
                {
                    "error": "invalid_header",
                    "error_description": "Invalid 'Authorization' header",
                    "error_code": 1,
                },
            )
        grant = self._access.get(token)
        if grant is None:
            return _unauthenticated("Invalid credentials")
        if grant.expires_at is not None and self.clock() >= grant.expires_at:
            return _unauthenticated("Access token has expired")
        needed = "monitoring" if req.method in ("GET", "HEAD") else "management"
        if needed not in grant.scopes:
            return json_response(
                401,
                {
                    "error": "insufficient_privileges",
                    "error_description": f"This request requires the '{needed}' scope",
                },
            )
        req.context["grant"] = grant
        return None

    # -- OAuth endpoints ------------------------------------------------------

    def _authenticate_client(
        self, req: SandboxRequest, form: dict[str, str]
    ) -> tuple[_Client | None, httpx.Response | None]:
        header = req.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        used_basic = scheme.lower() == "basic"
        if used_basic:
            if "client_secret" in form:
                return None, _oauth_error(
                    400, "invalid_request", "Use exactly one client authentication method"
                )
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None, _invalid_client(basic=True)
            raw_id, sep, raw_secret = decoded.partition(":")
            if not sep:
                return None, _invalid_client(basic=True)
            client_id, secret = unquote(raw_id), unquote(raw_secret)
            if form.get("client_id", client_id) != client_id:
                return None, _oauth_error(400, "invalid_request", "client_id does not match")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        client = self._clients.get(client_id)
        if client is None or not secrets.compare_digest(client.secret, secret):
            return None, _invalid_client(basic=used_basic)
        return client, None

    @route("POST", "/ws/oauth/token")
    def token(self, req: SandboxRequest) -> httpx.Response:
        """``POST /ws/oauth/token``: the refresh, client-credentials and code grants."""
        if not req.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _oauth_error(
                400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
            )
        form: dict[str, str] = req.body if isinstance(req.body, dict) else {}
        client, refused = self._authenticate_client(req, form)
        if refused is not None or client is None:
            return refused or _invalid_client(basic=False)
        grant_type = form.get("grant_type")
        if not grant_type:
            return _oauth_error(400, "invalid_request", "grant_type is required")
        if grant_type not in GRANT_TYPES:
            return _oauth_error(400, "unsupported_grant_type", "Unsupported grant type")
        if grant_type not in client.grant_types:
            return _oauth_error(
                400, "unauthorized_client", "The client may not use this grant type"
            )
        requested = form.get("scope")
        scopes = tuple(requested.split()) if requested else None
        if grant_type == "client_credentials":
            wanted = scopes or ("monitoring",)
            if set(wanted) - set(client.scopes):
                return _oauth_error(400, "invalid_scope", "The requested scope is not allowed")
            return self._token_response(client.client_id, None, wanted, refresh=False)
        if grant_type == "refresh_token":
            presented = form.get("refresh_token")
            if not presented:
                return _oauth_error(400, "invalid_request", "refresh_token is required")
            grant = self._refresh.get(presented)
            if grant is None or grant.client_id != client.client_id:
                return _oauth_error(
                    400, "invalid_grant", "The refresh token is invalid, expired or revoked"
                )
            if scopes is not None and set(scopes) - set(grant.scopes):
                return _oauth_error(400, "invalid_scope", "The requested scope is not allowed")
            del self._refresh[presented]
            return self._token_response(
                client.client_id,
                grant.user_id,
                scopes or grant.scopes,
                refresh=True,
                refresh_scopes=grant.scopes,
            )
        code = form.get("code")
        if not code:
            return _oauth_error(400, "invalid_request", "code is required")
        grant = self._codes.pop(code, None)
        if (
            grant is None
            or grant.client_id != client.client_id
            or (grant.expires_at is not None and self.clock() >= grant.expires_at)
            or grant.redirect_uri != form.get("redirect_uri", grant.redirect_uri)
        ):
            return _oauth_error(
                400, "invalid_grant", "The authorization code is invalid or expired"
            )
        return self._token_response(client.client_id, grant.user_id, grant.scopes, refresh=True)

    def _token_response(
        self,
        client_id: str,
        user_id: int | None,
        scopes: tuple[str, ...],
        *,
        refresh: bool,
        refresh_scopes: tuple[str, ...] | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "access_token": self._new_access(client_id, user_id, scopes),
            "token_type": "Bearer",
            "expires_in": math.ceil(self.access_token_ttl),
            "scope": " ".join(scopes),
        }
        if refresh:
            token = secrets.token_urlsafe(32)
            self._refresh[token] = _Grant(client_id, user_id, refresh_scopes or scopes)
            body["refresh_token"] = token
        return json_response(200, body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @route("POST", "/ws/oauth/revoke")
    def revoke(self, req: SandboxRequest) -> httpx.Response:
        """``POST /ws/oauth/revoke`` (RFC 7009): always 200 for an authenticated client."""
        form: dict[str, str] = req.body if isinstance(req.body, dict) else {}
        client, refused = self._authenticate_client(req, form)
        if refused is not None or client is None:
            return refused or _invalid_client(basic=False)
        token = form.get("token")
        if not token:
            return _oauth_error(400, "invalid_request", "token is required")
        for store in (self._access, self._refresh):
            grant = store.get(token)
            if grant is not None and grant.client_id == client.client_id:
                del store[token]
        return empty_response(200)

    # -- devices --------------------------------------------------------------

    def _device_or_error(self, raw_id: str) -> tuple[dict[str, Any] | None, httpx.Response | None]:
        try:
            device_id = int(raw_id)
        except ValueError:
            return None, self._bad_request("Invalid device id")
        device = self._devices.get(device_id)
        if device is None:
            return None, self._not_found(f"Device {device_id} not found")
        return device, None

    def _references(self, device: Mapping[str, Any]) -> dict[str, Any] | None:
        refs: dict[str, Any] = {}
        org = self._organizations.get(device["organizationId"])
        if org is not None:
            refs["organization"] = dict(org)
        loc = self._locations.get(device["locationId"])
        if loc is not None:
            refs["location"] = dict(loc)
        return refs or None

    def _node_view(self, device: Mapping[str, Any]) -> dict[str, Any]:
        view = {k: device[k] for k in _NODE_FIELDS if k in device}
        refs = self._references(device)
        if refs is not None:
            view["references"] = refs
        return view

    def _device_view(self, device: Mapping[str, Any]) -> dict[str, Any]:
        view = dict(device)
        refs = self._references(device)
        if refs is not None:
            view["references"] = refs
        return view

    def _filtered_devices(self, req: SandboxRequest) -> list[dict[str, Any]] | httpx.Response:
        df = req.arg("df")
        devices = [self._devices[i] for i in sorted(self._devices)]
        if df:
            try:
                keep = parse_device_filter(df)
            except ValueError:
                return self._bad_request("Invalid device filter")
            devices = [d for d in devices if keep(d)]
        return devices

    def _page_devices(self, req: SandboxRequest) -> list[dict[str, Any]] | httpx.Response:
        try:
            page_size = int(req.arg("pageSize") or 0) or None
            after = int(req.arg("after") or 0) or None
        except ValueError:
            return self._bad_request("pageSize and after must be integers")
        if page_size is not None and page_size < 1:
            return self._bad_request("pageSize must be positive")
        devices = self._filtered_devices(req)
        if isinstance(devices, httpx.Response):
            return devices
        if after is not None:
            devices = [d for d in devices if d["id"] > after]
        return devices[:page_size] if page_size is not None else devices

    @route("GET", "/v2/devices")
    def list_devices(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/devices``."""
        page = self._page_devices(req)
        if isinstance(page, httpx.Response):
            return page
        return json_response(200, [self._node_view(d) for d in page])

    @route("GET", "/v2/devices-detailed")
    def list_devices_detailed(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/devices-detailed``."""
        page = self._page_devices(req)
        if isinstance(page, httpx.Response):
            return page
        return json_response(200, [self._device_view(d) for d in page])

    @route("GET", "/v2/device/{device_id}")
    def get_device(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/device/{id}``."""
        device, error = self._device_or_error(req.path_params["device_id"])
        if device is None:
            return error or self.not_found(req)
        return json_response(200, self._device_view(device))

    # -- scripting ------------------------------------------------------------

    def _offered(self, device: Mapping[str, Any]) -> list[_Script]:
        family = os_family(device["nodeClass"])
        if family is None:
            return []
        items = [*self._scripts.values(), *self._actions.values()]
        return [s for s in items if family in s.operating_systems]

    def _roles(self, device: Mapping[str, Any]) -> tuple[str, ...]:
        family = os_family(device["nodeClass"])
        return _ROLES.get(family, ()) if family else ()

    @route("GET", "/v2/device/{device_id}/scripting/options")
    def scripting_options(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/device/{id}/scripting/options``."""
        device, error = self._device_or_error(req.path_params["device_id"])
        if device is None:
            return error or self.not_found(req)
        family = os_family(device["nodeClass"])
        return json_response(
            200,
            {
                "categories": [dict(c) for c in self._categories.values()],
                "scripts": [s.view() for s in self._offered(device)],
                "credentials": {
                    "roles": list(self._roles(device)),
                    "credentials": [dict(c) for c in self._credentials.values()] if family else [],
                },
            },
        )

    @route("POST", "/v2/device/{device_id}/script/run")
    def run_script(self, req: SandboxRequest) -> httpx.Response:
        """``POST /v2/device/{id}/script/run``."""
        grant: _Grant = req.context["grant"]
        if grant.user_id is None:
            return json_response(
                403,
                {
                    "error": "user_context_required",
                    "error_description": (
                        "Access key does not have user context which is required for this request"
                    ),
                    "error_code": 5,
                },
            )
        device, error = self._device_or_error(req.path_params["device_id"])
        if device is None:
            return error or self.not_found(req)
        body = req.body
        if not req.is_json or not isinstance(body, dict):
            return self._bad_request("Request body must be a JSON object")
        kind = body.get("type")
        if kind is None:
            return self._bad_request("type is required")
        if kind not in ("SCRIPT", "ACTION"):
            return self._bad_request("type must be SCRIPT or ACTION")
        script: _Script | None
        if kind == "SCRIPT":
            script_id = body.get("id")
            if script_id is None:
                return self._bad_request("id is required when type is SCRIPT")
            if isinstance(script_id, bool) or not isinstance(script_id, int):
                return self._bad_request("id must be an integer")
            script = self._scripts.get(script_id)
            if script is None:
                return self._not_found(f"Script {script_id} not found")
        else:
            action_uid = body.get("uid")
            if action_uid is None:
                return self._bad_request("uid is required when type is ACTION")
            if not isinstance(action_uid, str):
                return self._bad_request("uid must be a string")
            script = self._actions.get(action_uid)
            if script is None:
                return self._not_found(f"Action {action_uid} not found")
        if script not in self._offered(device):
            return self._bad_request(f"{script.name} is not available for device {device['id']}")
        parameters = body.get("parameters")
        if parameters is not None and not isinstance(parameters, str):
            return self._bad_request("parameters must be a string")
        if parameters is not None and len(parameters) > MAX_PARAMETERS:
            return self._bad_request(f"parameters must be at most {MAX_PARAMETERS} characters")
        run_as = body.get("runAs", "SYSTEM")
        allowed = {*self._roles(device), *(str(c) for c in self._credentials)}
        if not isinstance(run_as, str) or run_as not in allowed:
            return self._bad_request("runAs must be a credential role or identifier offered")
        self._start_run(device, script, parameters, run_as, grant)
        return empty_response(204)

    def _start_run(
        self,
        device: Mapping[str, Any],
        script: _Script,
        parameters: str | None,
        run_as: str,
        grant: _Grant,
    ) -> None:
        now, epoch = self.clock(), self.epoch()
        assert grant.user_id is not None
        run = ScriptRun(
            device_id=device["id"],
            type=script.type,
            script_id=script.script_id,
            action_uid=script.uid if script.type == "ACTION" else None,
            name=script.name,
            parameters=parameters,
            run_as=run_as,
            user_id=grant.user_id,
            series_uid=str(uuid.uuid4()),
            requested_at=now,
            completes_at=now + self.script_result_delay,
            result=script.result,
            output=script.output,
            exit_code=script.exit_code,
        )
        self._script_runs.append(run)
        ref = (
            {"scriptId": script.script_id} if script.type == "SCRIPT" else {"actionUid": script.uid}
        )
        common = {
            "deviceId": device["id"],
            "severity": "NONE",
            "priority": "NONE",
            "seriesUid": run.series_uid,
            "activityType": "ACTION",
            "sourceConfigUid": script.uid,
            "sourceName": script.name,
            "subject": script.name,
            "userId": grant.user_id,
            "type": "Action",
        }
        self._schedule(
            now,
            {
                **common,
                "activityTime": epoch,
                "statusCode": "START_REQUESTED",
                "status": "Start Requested",
                "message": f"{script.name} start requested",
                "data": {"scriptType": script.type, **ref, "runAs": run_as},
            },
        )
        self._schedule(
            run.completes_at,
            {
                **common,
                "activityTime": epoch + self.script_result_delay,
                "statusCode": "COMPLETED",
                "status": "Completed",
                "activityResult": script.result,
                "message": script.output,
                "data": {
                    "scriptType": script.type,
                    **ref,
                    "runAs": run_as,
                    "exitCode": script.exit_code,
                    "output": script.output,
                },
            },
        )

    @route("GET", "/v2/device/{device_id}/jobs")
    def device_jobs(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/device/{id}/jobs``: runs still in progress."""
        device, error = self._device_or_error(req.path_params["device_id"])
        if device is None:
            return error or self.not_found(req)
        now = self.clock()
        jobs = [
            {
                "uid": run.series_uid,
                "deviceId": run.device_id,
                "message": f"{run.name} in progress",
                "createTime": self.epoch() - (now - run.requested_at),
                "updateTime": self.epoch() - (now - run.requested_at),
                "sourceName": run.name,
                "subject": run.name,
                "userId": run.user_id,
                "data": {"scriptType": run.type},
                "device": self._node_view(device),
                "jobStatus": "IN_PROCESS",
                "jobType": "ACTION",
            }
            for run in self._script_runs
            if run.device_id == device["id"] and now < run.completes_at
        ]
        return json_response(200, jobs)

    # -- activities -----------------------------------------------------------

    def _schedule(self, due: float, activity: dict[str, Any]) -> None:
        self._seq += 1
        self._pending.append(_Pending(due, self._seq, activity))

    def _settle(self) -> None:
        """Make every activity whose time has come visible, in time order."""
        if not self._pending:
            return
        now = self.clock()
        due = sorted(p for p in self._pending if p.due <= now)
        if not due:
            return
        self._pending = [p for p in self._pending if p.due > now]
        for pending in due:
            next_id = self._activities[-1]["id"] + 1 if self._activities else 1
            self._activities.append({"id": next_id, **pending.activity})

    @route("GET", "/v2/device/{device_id}/activities")
    def device_activities(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/device/{id}/activities``."""
        device, error = self._device_or_error(req.path_params["device_id"])
        if device is None:
            return error or self.not_found(req)
        try:
            older = int(req.arg("olderThan") or 0) or None
            newer = int(req.arg("newerThan") or 0) or None
            page_size = int(req.arg("pageSize") or ACTIVITY_PAGE_DEFAULT)
        except ValueError:
            return self._bad_request("olderThan, newerThan and pageSize must be integers")
        if not ACTIVITY_PAGE_MIN <= page_size <= ACTIVITY_PAGE_MAX:
            return self._bad_request(
                f"pageSize must be between {ACTIVITY_PAGE_MIN} and {ACTIVITY_PAGE_MAX}"
            )
        kind, series = req.arg("activityType"), req.arg("seriesUid")
        statuses = {s.strip() for s in (req.arg("status") or "").split(",") if s.strip()}
        found = [
            a
            for a in reversed(self._activities)
            if a["deviceId"] == device["id"]
            and (older is None or a["id"] < older)
            and (newer is None or a["id"] > newer)
            and (kind is None or a.get("activityType") == kind)
            and (series is None or a.get("seriesUid") == series)
            and (not statuses or a.get("statusCode") in statuses)
        ][:page_size]
        body: dict[str, Any] = {"activities": [dict(a) for a in found]}
        if found:
            body = {"lastActivityId": found[-1]["id"], **body}
        return json_response(200, body)

    # -- reboot ---------------------------------------------------------------

    @route("POST", "/v2/device/{device_id}/reboot/{mode}")
    def reboot(self, req: SandboxRequest) -> httpx.Response:
        """``POST /v2/device/{id}/reboot/{mode}``."""
        mode = req.path_params["mode"]
        if mode not in REBOOT_MODES:
            return self._bad_request("mode must be NORMAL or FORCED")
        device, error = self._device_or_error(req.path_params["device_id"])
        if device is None:
            return error or self.not_found(req)
        body = req.body
        if body is not None and (not req.is_json or not isinstance(body, dict)):
            return self._bad_request("Request body must be a JSON object")
        reason = (body or {}).get("reason")
        if reason is not None and not isinstance(reason, str):
            return self._bad_request("reason must be a string")
        grant: _Grant = req.context["grant"]
        self._reboots.append(Reboot(device["id"], mode, reason, grant.user_id, self.clock()))
        self._schedule(
            self.clock() + self.reboot_delay,
            {
                "deviceId": device["id"],
                "activityTime": self.epoch() + self.reboot_delay,
                "severity": "NONE",
                "priority": "NONE",
                "activityType": "SYSTEM",
                "statusCode": "SYSTEM_REBOOTED",
                "status": "System Rebooted",
                "message": f"{mode.title()} reboot" + (f": {reason}" if reason else ""),
                "data": {"mode": mode},
            },
        )
        return empty_response(204)

    # -- alerts ---------------------------------------------------------------

    def _active_alerts(self) -> list[dict[str, Any]]:
        return [a for uid, a in self._alerts.items() if uid not in self._reset_alerts]

    def _alert_view(self, alert: Mapping[str, Any]) -> dict[str, Any]:
        view = dict(alert)
        device = self._devices.get(alert["deviceId"])
        if device is not None:
            view["device"] = self._node_view(device)
        return view

    @route("GET", "/v2/alerts")
    def list_alerts(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/alerts``."""
        alerts = self._active_alerts()
        source_type = req.arg("sourceType")
        if source_type:
            alerts = [a for a in alerts if a["sourceType"] == source_type]
        if req.arg("df"):
            devices = self._filtered_devices(req)
            if isinstance(devices, httpx.Response):
                return devices
            ids = {d["id"] for d in devices}
            alerts = [a for a in alerts if a["deviceId"] in ids]
        return json_response(200, [self._alert_view(a) for a in alerts])

    @route("GET", "/v2/device/{device_id}/alerts")
    def device_alerts(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v2/device/{id}/alerts``."""
        device, error = self._device_or_error(req.path_params["device_id"])
        if device is None:
            return error or self.not_found(req)
        alerts = [a for a in self._active_alerts() if a["deviceId"] == device["id"]]
        return json_response(200, [self._alert_view(a) for a in alerts])

    @route("POST", "/v2/alert/{uid}/reset")
    @route("DELETE", "/v2/alert/{uid}")
    def reset_alert(self, req: SandboxRequest) -> httpx.Response:
        """``POST /v2/alert/{uid}/reset`` and ``DELETE /v2/alert/{uid}``."""
        uid = req.path_params["uid"]
        if (
            req.method == "POST"
            and req.body is not None
            and not (req.is_json and isinstance(req.body, dict))
        ):
            return self._bad_request("Request body must be a JSON object")
        if uid not in self._alerts or uid in self._reset_alerts:
            return self._not_found(f"Alert {uid} not found")
        self._reset_alerts.add(uid)
        self._alert_resets.append(AlertReset(uid, req.method, req.body, self.clock()))
        return empty_response(204)


def _unauthenticated(description: str) -> httpx.Response:
    return json_response(
        401,
        {"error": "not_authenticated", "error_description": description, "error_code": 10},
        headers={"WWW-Authenticate": 'Bearer realm="ninjaone"'},
    )


def _oauth_error(
    status: int, error: str, description: str, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    return json_response(
        status,
        {"error": error, "error_description": description},
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _invalid_client(*, basic: bool) -> httpx.Response:
    headers = {"WWW-Authenticate": 'Basic realm="ninjaone"'} if basic else None
    return _oauth_error(401, "invalid_client", "Client authentication failed", headers)
