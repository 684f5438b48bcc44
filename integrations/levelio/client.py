"""LevelClient: Level's public API v2 (``/v2/...``), authenticated with a raw API key.

What Level documents (vendors.md §2, Level's API docs):

- every request carries ``Authorization: <raw key>`` (no scheme) and
  ``Accept: application/json``; ``Content-Type`` only with a body;
- lists are cursor pages ``{"data": [...], "has_more": bool}`` with
  ``limit`` 1 to 100 (default 20) and ``starting_after=<last id>``. The
  client asks for no more than it still needs (``limit=min(100, missing)``)
  and stops as soon as an action's own ``limit`` is met, when ``has_more``
  is false, a page is empty, or its last item has no ``id`` (no cursor to go
  on with). The webhook-trigger list is paged the same way, and a bare
  array is taken as the whole list;
- 401 (``{"error": "Access denied"}``): the key is wrong or was deleted;
- keys are read-only or read/write; a read-only key gets 403 on any write;
- 429 carries ``Retry-After`` (no quota is published). It goes up the shared
  ladder (``actionkit/http.py``) as RATE_LIMITED with the header's delay
  (seconds, ``0`` or an HTTP date measured on the step's clock), so the
  executor re-schedules the step: no worker ever sleeps on it, and each
  attempt hits Level once.

The key is a header, never part of a URL or a message, and was read through
the action context, which redacts it from whatever a step records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from actionkit.context import RequestGate
from actionkit.errors import (
    ActionFailure,
    IntegrationMisconfigured,
    NotFound,
    PermissionDenied,
    VendorDetail,
    VendorError,
)
from actionkit.http import VendorClient, instance_root, vendor_message
from actionkit.outbound import HostRules, OutboundPolicy

DEFAULT_BASE_URL = "https://api.level.io"
# Level's one API host; another needs --allow-custom-host.
HOSTS = HostRules(known=("api.level.io",))
# Level's own cap on a page (its documented ``limit`` range is 1 to 100).
PAGE_MAX = 100
DEVICES_PATH = "/v2/devices"
ALERTS_PATH = "/v2/alerts"
UPDATES_PATH = "/v2/updates"
AUTOMATIONS_PATH = "/v2/automations"
WEBHOOKS_PATH = "/v2/automations/webhooks"
RUNS_PATH = "/v2/automation-runs"
MAKE_A_KEY = "create one in Level under Settings > API"
RECONNECT = "patchbay connect levelio --secret levelio_api_key=@file"
TOKEN_NOT_FOUND = (
    "Level webhook token not found. The automation needs a webhook trigger configured in "
    'Level; use "List automations" to discover tokens.'
)


def normalize_base_url(raw: str | None) -> str:
    """The API root: the connection's URL (https by default, no trailing ``/`` or ``/v2``).

    None or blank is Level's own ``https://api.level.io``.
    """
    return instance_root(
        (raw or "").strip() or DEFAULT_BASE_URL,
        vendor="Level",
        example=DEFAULT_BASE_URL,
        strip_suffixes=("/v2",),
    )


def _path(*segments: str) -> str:
    """``/v2/...`` with each vendor id quoted as one path segment."""
    return "/".join(quote(s, safe="") if i else s for i, s in enumerate(segments))


def _id(item: Mapping[str, Any]) -> str | None:
    value = item.get("id")
    return value if isinstance(value, str) and value else None


class LevelClient(VendorClient):
    """Level's API v2 for one organization's API key."""

    vendor = "Level"
    throttle_key = "levelio"

    def __init__(
        self,
        base_url: str | None,
        *,
        api_key: SecretStr,
        policy: OutboundPolicy,
        transport: httpx.BaseTransport | None = None,
        gate: RequestGate | None = None,
        clock: Callable[[], float] | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(
            normalize_base_url(base_url),
            policy=policy,
            transport=transport,
            gate=gate,
            timeout=timeout,
            clock=clock,
        )
        self._api_key = api_key

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": self._api_key.get_secret_value()}

    def error_for(self, response: httpx.Response, *, mutating: bool = False) -> ActionFailure:
        """The shared ladder, with what to do about Level's 401 and a read-only key's 403."""
        status = response.status_code
        said = vendor_message(response)
        detail = VendorDetail(status, said)
        if status == 401:
            return IntegrationMisconfigured(
                f"Level rejected the API key (401: {said}); {MAKE_A_KEY} and store it with "
                f"{RECONNECT}",
                vendor=detail,
            )
        if status == 403 and mutating:
            return PermissionDenied(
                f"Level refused the change (403: {said}): it needs a read/write API key and the "
                f"stored one is read-only; {MAKE_A_KEY} with read/write access and store it with "
                f"{RECONNECT}",
                vendor=detail,
            )
        return super().error_for(response, mutating=mutating)

    # -- reading ----------------------------------------------------------------------

    def get_json(self, path: str, **params: Any) -> Any:
        """``GET path`` decoded (None for an empty body); a body that is not JSON is an error."""
        return self.request_json("GET", path, params=params)

    def get_object(self, path: str, what: str, **params: Any) -> dict[str, Any]:
        """``GET path``, which must answer a JSON object."""
        data = self.get_json(path, **params)
        if not isinstance(data, dict):
            raise VendorError(
                f"Level {what} returned an unexpected response",
                vendor=VendorDetail(200, "unexpected response body"),
            )
        return data

    def pages(
        self, path: str, *, params: Mapping[str, Any], page_size: Callable[[], int]
    ) -> Iterator[list[dict[str, Any]]]:
        """The cursor list at ``path``, one page at a time (``page_size()`` asked before each).

        Stop iterating to stop paging. A bare array is the whole list.
        """
        after: str | None = None
        while True:
            data = self.get_json(
                path, **params, limit=max(1, min(PAGE_MAX, page_size())), starting_after=after
            )
            if isinstance(data, list):
                yield [item for item in data if isinstance(item, dict)]
                return
            if not isinstance(data, dict) or not isinstance(data.get("data"), list):
                raise VendorError(
                    f"Level answered {path} with an unexpected list",
                    vendor=VendorDetail(200, "unexpected response body"),
                )
            items = [item for item in data["data"] if isinstance(item, dict)]
            yield items
            last = _id(items[-1]) if items else None
            if data.get("has_more") is not True or last is None or last == after:
                return
            after = last

    def collect(
        self,
        path: str,
        *,
        limit: int | None,
        params: Mapping[str, Any] | None = None,
        keep: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Items of the list at ``path``, in Level's order, until ``limit`` are kept (None: all).

        Without ``keep`` each page asks for just the items still missing; with
        it (a filter Level cannot apply) every page is a full one.
        """
        found: list[dict[str, Any]] = []

        def page_size() -> int:
            if limit is None or keep is not None:
                return PAGE_MAX
            return limit - len(found)

        for page in self.pages(path, params=params or {}, page_size=page_size):
            for item in page:
                if keep is None or keep(item):
                    found.append(item)
                    if limit is not None and len(found) >= limit:
                        return found
        return found

    def get_device(self, device_id: str, **params: Any) -> dict[str, Any]:
        """``GET /v2/devices/{id}`` (``params``: the ``include_*`` switches)."""
        return self.get_object(_path(DEVICES_PATH, device_id), f"device {device_id}", **params)

    def get_run(self, run_id: str, *, include_steps: bool) -> dict[str, Any]:
        """``GET /v2/automation-runs/{id}``, with ``include_steps=true`` only when asked."""
        return self.get_object(
            _path(RUNS_PATH, run_id),
            f"automation run {run_id}",
            include_steps="true" if include_steps else None,
        )

    # -- writing ----------------------------------------------------------------------

    def resolve_alert(self, alert_id: str) -> None:
        """``POST /v2/alerts/{id}/resolve`` (no body; Level's answer is not needed)."""
        self.request("POST", _path(ALERTS_PATH, alert_id, "resolve"))

    def trigger_webhook(self, token: str, device_ids: list[str]) -> Any:
        """``POST /v2/automations/webhooks/{token}``: Level's answer, as it came.

        The body is ``{"device_ids": [...]}``, or ``{}`` for none. The key goes
        in ``Authorization`` as on every request: a trigger that requires an
        authorization header needs a read/write key there, one that does not
        ignores it. An unknown token (no webhook trigger saved) is NOT_FOUND.
        Nothing here raises after Level answered 2xx: an empty body is None,
        one that is not JSON its text.
        """
        body: dict[str, Any] = {"device_ids": device_ids} if device_ids else {}
        try:
            response = self.request("POST", _path(WEBHOOKS_PATH, token), json=body)
        except NotFound as exc:
            raise NotFound(
                TOKEN_NOT_FOUND, vendor=exc.vendor, details={"webhook_token": token}
            ) from None
        if not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return response.text

    def probe_write_access(self, alert_id: str) -> httpx.Response:
        """``POST /v2/alerts/{alert_id}/resolve`` for an id no alert has: Level's raw answer.

        For the connection check only: a read-only key is refused (403) before
        the alert is looked up; a read/write key gets 404 because there is no
        such alert, so nothing is resolved either way.
        """
        return self.send("POST", _path(ALERTS_PATH, alert_id, "resolve"), mutating=False)
