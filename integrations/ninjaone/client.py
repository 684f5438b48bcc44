"""NinjaOneClient: the public API v2 and the OAuth token endpoint of one NinjaOne instance.

NinjaOne is regional (app / us2 / eu / oc / ca ``.ninjarmm.com``); the client
takes the instance root and puts ``/v2/...`` and ``/ws/oauth/token`` under it.
Where the access token comes from is a :class:`TokenSource` (the tenant's
secret store in production, see ``credentials.py``); the client asks it for a
token before each request and, once per request, for a fresh one after a 401.

Every request goes through the shared base (``actionkit/http.py``): the
throttle/dispatch gate and the status-to-error ladder. On top of the ladder the
client names NinjaOne's own refusals (no user context, missing scope, a dead
refresh token) so the step's error says what to do, and it reads NinjaOne's
``errorMessage`` as the vendor message.

A vendor answer that echoes a credential needs no scrubbing here: every token
the client holds was read or written through the action context
(``ctx.secret``, ``ctx.update_secret``, ``ctx.set_secret``), and the executor
redacts each such value, and each string inside a JSON one such as
``ninjaone_credentials``, from whatever a step records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from actionkit.context import RequestGate
from actionkit.errors import (
    ActionFailure,
    IntegrationMisconfigured,
    VendorDetail,
    VendorError,
)
from actionkit.http import VendorClient, error_for_response, instance_root, vendor_message
from actionkit.outbound import HostRules, OutboundPolicy
from integrations.ninjaone.models import (
    WireActivities,
    WireAlert,
    WireDevice,
    WireScriptingOptions,
    WireTokenGrant,
)

DEFAULT_INSTANCE_URL = "https://app.ninjarmm.com"
# NinjaOne's regional instances (US, US2, EU, Oceania, Canada); a connection
# naming another host needs --allow-custom-host.
HOSTS = HostRules(
    known=(
        "app.ninjarmm.com",
        "us2.ninjarmm.com",
        "eu.ninjarmm.com",
        "oc.ninjarmm.com",
        "ca.ninjarmm.com",
    )
)
TOKEN_PATH = "/ws/oauth/token"

_M = TypeVar("_M", bound=BaseModel)


class TokenSource(Protocol):
    """Hands the client access tokens; refreshes when asked."""

    def access_token(self, client: NinjaOneClient) -> str:
        """A token valid for a while yet (refreshing first if it is about to expire)."""
        ...

    def refresh(self, client: NinjaOneClient, rejected: str | None) -> str:
        """A token other than ``rejected`` (which NinjaOne just refused)."""
        ...


class RefreshTokenRejected(IntegrationMisconfigured):
    """The token endpoint answered ``invalid_grant``: the refresh token is dead."""


def normalize_instance_url(raw: str | None) -> str:
    """The instance root: https by default, without a trailing ``/``, ``/api`` or ``/api/v2``.

    Empty means NinjaOne's main (US) instance, as the reference did.
    """
    return instance_root(
        (raw or "").strip() or DEFAULT_INSTANCE_URL,
        vendor="NinjaOne",
        example="https://<region>.ninjarmm.com",
        strip_suffixes=("/api/v2", "/api", "/v2"),
    )


def _error_fields(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


class NinjaOneClient(VendorClient):
    """One NinjaOne instance: API v2 calls and the refresh-token exchange."""

    vendor = "NinjaOne"
    throttle_key = "ninjaone"

    def __init__(
        self,
        instance_url: str | None,
        *,
        policy: OutboundPolicy,
        transport: httpx.BaseTransport | None = None,
        gate: RequestGate | None = None,
        tokens: TokenSource | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(
            normalize_instance_url(instance_url),
            policy=policy,
            transport=transport,
            gate=gate,
            timeout=timeout,
        )
        self._tokens = tokens
        self._token_in_use: str | None = None

    # -- auth -----------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        if self._tokens is None:
            return {}
        self._token_in_use = self._tokens.access_token(self)
        return {"Authorization": f"Bearer {self._token_in_use}"}

    def on_unauthorized(self, response: httpx.Response) -> bool:
        # A missing scope is not cured by a new token of the same grant.
        if self._tokens is None or _error_fields(response).get("error") == (
            "insufficient_privileges"
        ):
            return False
        self._tokens.refresh(self, rejected=self._token_in_use)
        return True

    def exchange_refresh_token(
        self, refresh_token: str, *, client_id: str, client_secret: str
    ) -> WireTokenGrant:
        """``POST /ws/oauth/token`` with ``grant_type=refresh_token`` (rotates the token).

        Not "mutating" for the gate: it changes nothing a step could repeat
        by accident, so it never marks a step dispatched.
        """
        response = self.send(
            "POST",
            TOKEN_PATH,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client_id,
                "client_secret": client_secret,
            },
            mutating=False,
            authenticated=False,
        )
        if response.is_success:
            return self._parse(WireTokenGrant, response, "token")
        raise self._token_error(response)

    def _token_error(self, response: httpx.Response) -> ActionFailure:
        fields = _error_fields(response)
        code = _text(fields.get("error")) or f"HTTP {response.status_code}"
        description = _text(fields.get("error_description")) or vendor_message(response)
        detail = VendorDetail(response.status_code, f"{code}: {description}")
        if code == "invalid_grant":
            return RefreshTokenRejected(
                f"NinjaOne rejected the refresh token ({code}: {description})", vendor=detail
            )
        if code == "invalid_client" or response.status_code == 401:
            return IntegrationMisconfigured(
                f"NinjaOne at {self.base_url} rejected the API client ({code}: {description}); "
                "check the ninjaone_client_id and ninjaone_client_secret secrets and the "
                "instance URL",
                vendor=detail,
            )
        if response.status_code == 400:
            return IntegrationMisconfigured(
                f"NinjaOne refused to refresh the access token ({code}: {description})",
                vendor=detail,
            )
        return error_for_response(response, self.vendor)

    # -- requests -----------------------------------------------------------------------

    def error_for(self, response: httpx.Response, *, mutating: bool = False) -> ActionFailure:
        """The base ladder's error, with NinjaOne's own codes and message applied.

        ``not_processed_statuses`` stays the base's (429 only): the NinjaOne
        public API v2 spec declares only ``default`` responses for its action
        endpoints (reboot, script run, alert reset) and documents no status as
        "not processed", so a 5xx to one of them leaves its outcome unknown.
        """
        fields = _error_fields(response)
        code = fields.get("error")
        description = _text(fields.get("error_description")) or vendor_message(response)
        detail = VendorDetail(response.status_code, description)
        if response.status_code == 403 and code == "user_context_required":
            return IntegrationMisconfigured(
                "NinjaOne runs scripts only for a user: the stored token has no user context "
                "(a client-credentials token). Connect NinjaOne with a refresh token from the "
                "authorization-code flow, requested with the offline_access scope "
                "(patchbay connect ninjaone --secret ninjaone_refresh_token=@file)",
                vendor=detail,
            )
        if response.status_code == 401 and code == "insufficient_privileges":
            return IntegrationMisconfigured(
                f"the NinjaOne token lacks a scope this action needs ({description}); "
                "reconnect with a token granted the monitoring and management scopes",
                vendor=detail,
                details={"vendor_error": code},
            )
        error = super().error_for(response, mutating=mutating)
        incident = _text(fields.get("incidentId"))
        if incident is not None:
            # NinjaOne's support needs the incident id to find the request.
            error.details = {**(error.details or {}), "incident_id": incident}
        return error

    def _parse(self, model: type[_M], response: httpx.Response, what: str) -> _M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            raise VendorError(
                f"NinjaOne answered {response.request.url.path} with an unexpected {what}",
                vendor=VendorDetail(response.status_code, "unexpected response body"),
            ) from None

    def _get(self, model: type[_M], path: str, what: str, **params: Any) -> _M:
        return self._parse(model, self.request("GET", path, params=params), what)

    def _get_list(self, model: type[_M], path: str, what: str, **params: Any) -> list[_M]:
        response = self.request("GET", path, params=params)
        try:
            data = response.json()
            if not isinstance(data, list):
                raise TypeError(what)
            return [model.model_validate(item) for item in data]
        except (ValueError, TypeError):  # ValidationError is a ValueError
            raise VendorError(
                f"NinjaOne answered {path} with an unexpected {what} list",
                vendor=VendorDetail(response.status_code, "unexpected response body"),
            ) from None

    # -- API v2 -------------------------------------------------------------------------

    def get_device(self, device_id: int) -> WireDevice:
        """``GET /v2/device/{id}``."""
        return self._get(WireDevice, f"/v2/device/{device_id}", "device")

    def list_devices(self, *, page_size: int, after: int | None = None) -> list[WireDevice]:
        """One page of ``GET /v2/devices-detailed`` (ascending id, ``after`` = last id seen).

        The detailed listing, unlike ``/v2/devices``, includes ``os``, so a device
        looks the same whether it was listed or fetched by id.
        """
        return self._get_list(
            WireDevice, "/v2/devices-detailed", "device", pageSize=page_size, after=after
        )

    def iter_devices(self, *, page_size: int) -> Iterator[WireDevice]:
        """Every device, page by page; stop iterating to stop paging."""
        after: int | None = None
        while True:
            page = self.list_devices(page_size=page_size, after=after)
            yield from page
            if len(page) < page_size:
                return
            last = page[-1].id
            if after is not None and last <= after:
                return  # the cursor did not move: never loop on a vendor quirk
            after = last

    def scripting_options(self, device_id: int) -> WireScriptingOptions:
        """``GET /v2/device/{id}/scripting/options``."""
        return self._get(
            WireScriptingOptions, f"/v2/device/{device_id}/scripting/options", "scripting options"
        )

    def run_script(self, device_id: int, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """``POST /v2/device/{id}/script/run``; NinjaOne answers with no body (204)."""
        response = self.request("POST", f"/v2/device/{device_id}/script/run", json=dict(body))
        if not response.content:
            return None
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else {"body": data}

    def device_activities(
        self,
        device_id: int,
        *,
        newer_than: int | None = None,
        activity_type: str | None = None,
        series_uid: str | None = None,
        page_size: int | None = None,
    ) -> WireActivities:
        """``GET /v2/device/{id}/activities``, newest first."""
        return self._get(
            WireActivities,
            f"/v2/device/{device_id}/activities",
            "activity list",
            newerThan=newer_than,
            activityType=activity_type,
            seriesUid=series_uid,
            pageSize=page_size,
        )

    def reboot(self, device_id: int, mode: str, reason: str | None = None) -> None:
        """``POST /v2/device/{id}/reboot/{mode}`` (NORMAL or FORCED)."""
        body = {"reason": reason} if reason else None
        self.request("POST", f"/v2/device/{device_id}/reboot/{quote(mode, safe='')}", json=body)

    def list_alerts(self) -> list[WireAlert]:
        """``GET /v2/alerts``: every active alert (the API does not page them)."""
        return self._get_list(WireAlert, "/v2/alerts", "alert")

    def reset_alert(self, uid: str) -> None:
        """``POST /v2/alert/{uid}/reset``."""
        self.request("POST", f"/v2/alert/{quote(uid, safe='')}/reset")
