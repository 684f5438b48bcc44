"""FakeLevel: a stateful Level (level.io) organization behind Level's public API v2.

Sources: vendors.md §2 (the reference's calls and the vendor facts it
records) and §5, and Level's public documentation: "About Webhooks"
(https://levelapi.readme.io/reference/about-webhooks), "Errors"
(https://levelapi.readme.io/reference/errors), "API Keys Settings"
(https://docs.level.io/en/articles/13909289-api-keys-settings), "Webhook
Trigger" (https://docs.level.io/en/articles/13909069-webhook-trigger) and
"Webhook Settings" (https://docs.level.io/en/articles/13909290-webhook-settings).
Level's OpenAPI spec was not available; where the sources are silent the
choices are marked *(choice)* in the modules:

- :mod:`sandbox.levelio.api`: error bodies, cursor paging, timestamps, forced 429s;
- :mod:`sandbox.levelio.auth`: raw-key ``Authorization``, read-only keys;
- :mod:`sandbox.levelio.events`: outbound webhooks, signed ``X-Level-Signature``;
- :mod:`sandbox.levelio.devices`: groups, devices, ``group_id`` vs
  ``ancestor_group_id``, the ``include_*`` params;
- :mod:`sandbox.levelio.alerts`: alerts, resolving, ``alert_*`` events;
- :mod:`sandbox.levelio.updates`: updates;
- :mod:`sandbox.levelio.automations`: automations and the webhook-trigger list;
- :mod:`sandbox.levelio.runs`: firing a trigger, automation runs on the fake's clock.

The base URL is the root (``http://127.0.0.1:PORT``, what the reference reads
from ``LEVELIO_API_BASE_URL``); the API is under ``/v2/...``. Order of a
request: a ``/v2`` call other than a trigger POST is authenticated first
(401/403, :mod:`sandbox.levelio.auth`); then the route; events the call
caused are delivered once it has been handled.

Control surface, besides the shared one (:mod:`sandbox.core`):

- ``POST /__sandbox/credentials`` ``{"write"?: bool}`` -> 201 ``{"api_key"}``:
  a new read/write key (``"write": false``: read-only), one per tenant
  ``patchbay sandbox connect`` connects (:meth:`FakeLevel.mint_credentials`);
- ``POST /__sandbox/switches`` ``{"trigger_body"?: "empty"|"run"|"ok",
  "webhook_list"?: "paged"|"array", "run_start_delay"?, "run_duration"?}``
  -> 200 with the switches' values;
- ``POST /__sandbox/alerts`` ``{"device_id", "name", "description"?,
  "severity"?}`` -> 201 the new active alert, emitting ``alert_active``;
  unknown device -> 404, bad severity -> 400;
- ``POST /__sandbox/runs/outcome`` ``{"outcome": "success"|"failed",
  "run_id"? | "automation_id"?}`` -> 200: how a run, an automation's new
  runs, or every new run ends; an ended run -> 409, unknown ids -> 404;
- ``POST /__sandbox/rate_limit`` ``{"times"?: n (1), "retry_after"?: seconds
  | text | null, "retry_after_http_date"?: bool, "method"?, "path"?}`` -> 201:
  the next ``times`` matching calls answer 429; ``retry_after`` null or
  absent sends no ``Retry-After``; with ``retry_after_http_date`` the seconds
  become an HTTP date that far ahead on the fake's clock;
- ``POST /__sandbox/webhooks`` ``{"url", "secret"?, "event_types"?}`` -> 201
  ``{"id"}``: subscribe a URL to the fake's events (Level's Settings ->
  Webhooks).

Not modelled: writes other than resolve and trigger (device updates, tags,
custom fields), ``device_*``/``group_*`` events, delivery retries, a real
rate limiter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response
from sandbox.levelio.alerts import ALERT_EVENTS, SEVERITIES, Alert
from sandbox.levelio.api import LIMIT_DEFAULT, LIMIT_MAX, LIMIT_MIN
from sandbox.levelio.automations import WEBHOOK_LIST_SHAPES, Automation, WebhookTrigger
from sandbox.levelio.devices import PLATFORMS, Device, Group
from sandbox.levelio.events import (
    EVENT_TYPES,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookDelivery,
    WebhookEndpoint,
    sign,
)
from sandbox.levelio.runs import RUN_OUTCOMES, TRIGGER_BODIES, AutomationRun, Runs
from sandbox.levelio.updates import Update

__all__ = [
    "ALERT_EVENTS",
    "EVENT_TYPES",
    "LIMIT_DEFAULT",
    "LIMIT_MAX",
    "LIMIT_MIN",
    "PLATFORMS",
    "RUN_OUTCOMES",
    "SEVERITIES",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TRIGGER_BODIES",
    "WEBHOOK_LIST_SHAPES",
    "Alert",
    "Automation",
    "AutomationRun",
    "Device",
    "FakeLevel",
    "Group",
    "Update",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookTrigger",
    "sign",
]

DEMO_API_KEY = "patchbay-demo-level-key-0000000000000001"
DEMO_READ_ONLY_KEY = "patchbay-demo-level-readonly-key-00000001"
_TRIGGER_PATH = re.compile(r"^/v2/automations/webhooks/[^/]+$")

# (name, has a webhook trigger); more than 20 triggers, so the list pages.
_DEMO_AUTOMATIONS: tuple[tuple[str, bool], ...] = (
    ("Restart Print Spooler", True),
    ("Clear temp files", True),
    ("Flush DNS cache", True),
    ("Install Windows updates", True),
    ("Reboot device", True),
    ("Collect system logs", True),
    ("Restart explorer.exe", True),
    ("Disk cleanup", True),
    ("Check disk health", True),
    ("Install Google Chrome", True),
    ("Uninstall Zoom", True),
    ("Enable BitLocker", True),
    ("Sync system time", True),
    ("Reset network stack", True),
    ("Restart Windows Update service", True),
    ("Run Defender quick scan", True),
    ("Rotate local admin password", True),
    ("Map network drives", True),
    ("Update Microsoft 365", True),
    ("Restart macOS Finder", True),
    ("Install Homebrew packages", True),
    ("Restart nginx", True),
    ("Apply Linux security updates", True),
    ("Offboard device", True),
    ("Onboard new device", False),
    ("Weekly maintenance", False),
    ("Nightly backup check", False),
    ("Tag devices by OS", False),
    ("Monthly patch report", False),
    ("Low disk space remediation", False),
)


class FakeLevel(Runs):
    """A stateful Level organization; see the module docstring for its API.

    ``run_start_delay``/``run_duration``: seconds a run stays pending/running.
    ``trigger_body``: what a successful trigger answers (``empty``, ``run``,
    ``ok``). ``webhook_transport``: how outbound events are POSTed (None:
    real HTTP).
    """

    def __init__(
        self,
        *,
        run_start_delay: float = 2.0,
        run_duration: float = 10.0,
        trigger_body: str = "empty",
        webhook_transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        epoch_origin: float | None = None,
    ) -> None:
        super().__init__(
            run_start_delay=run_start_delay,
            run_duration=run_duration,
            trigger_body=trigger_body,
            webhook_transport=webhook_transport,
            clock=clock,
            sleep=sleep,
            epoch_origin=epoch_origin,
        )

    def dispatch(self, req: SandboxRequest) -> httpx.Response:
        """Authenticate ``/v2`` calls (a trigger checks its own), then route."""
        is_trigger = req.method == "POST" and _TRIGGER_PATH.match(req.path) is not None
        if (req.path == "/v2" or req.path.startswith("/v2/")) and not is_trigger:
            refused = self._authorize(req)
            if refused is not None:
                return refused
        return super().dispatch(req)

    # -- control surface ----------------------------------------------------------

    control_endpoints = (
        ("POST", "/__sandbox/credentials", 'mint an API key: {"write"} (default true)'),
        (
            "POST",
            "/__sandbox/switches",
            'set {"trigger_body", "webhook_list", "run_start_delay", "run_duration"}',
        ),
        ("POST", "/__sandbox/alerts", 'raise {"device_id", "name", "description", "severity"}'),
        (
            "POST",
            "/__sandbox/runs/outcome",
            'set {"outcome"} of a "run_id", "automation_id" or all',
        ),
        (
            "POST",
            "/__sandbox/rate_limit",
            'force 429s: {"times", "retry_after", "retry_after_http_date", "method", "path"}',
        ),
        ("POST", "/__sandbox/webhooks", 'subscribe {"url", "secret", "event_types"} to events'),
    )

    def control(self, req: SandboxRequest) -> httpx.Response | None:
        """The fake's own control endpoints (see the module docstring)."""
        if req.method != "POST":
            return None
        body: dict[str, Any] = req.body if isinstance(req.body, dict) else {}
        handlers: dict[str, Callable[[dict[str, Any]], httpx.Response]] = {
            "/__sandbox/credentials": self._control_credentials,
            "/__sandbox/switches": self._control_switches,
            "/__sandbox/alerts": self._control_alert,
            "/__sandbox/runs/outcome": self._control_run_outcome,
            "/__sandbox/rate_limit": self._control_rate_limit,
            "/__sandbox/webhooks": self._control_webhooks,
        }
        handler = handlers.get(req.path)
        return None if handler is None else handler(body)

    def _control_credentials(self, body: dict[str, Any]) -> httpx.Response:
        write = body.get("write", True)
        if not isinstance(write, bool):
            return _invalid("write must be a boolean")
        return json_response(201, self.mint_credentials(write=write))

    def _control_switches(self, body: dict[str, Any]) -> httpx.Response:
        trigger_body = body.get("trigger_body", self.trigger_body)
        if trigger_body not in TRIGGER_BODIES:
            return _invalid(f"trigger_body: {'|'.join(TRIGGER_BODIES)}")
        webhook_list = body.get("webhook_list", self.webhook_list)
        if webhook_list not in WEBHOOK_LIST_SHAPES:
            return _invalid(f"webhook_list: {'|'.join(WEBHOOK_LIST_SHAPES)}")
        delays = {k: body.get(k, getattr(self, k)) for k in ("run_start_delay", "run_duration")}
        if any(type(v) not in (int, float) or v < 0 for v in delays.values()):
            return _invalid("run_start_delay and run_duration are numbers >= 0")
        self.trigger_body, self.webhook_list = trigger_body, webhook_list
        self.run_start_delay = float(delays["run_start_delay"])
        self.run_duration = float(delays["run_duration"])
        return json_response(
            200,
            {
                "trigger_body": self.trigger_body,
                "webhook_list": self.webhook_list,
                "run_start_delay": self.run_start_delay,
                "run_duration": self.run_duration,
            },
        )

    def _control_alert(self, body: dict[str, Any]) -> httpx.Response:
        device_id, name = body.get("device_id"), body.get("name")
        if not isinstance(name, str) or not name:
            return _invalid("name is required")
        if not isinstance(device_id, str) or device_id not in self._devices:
            return json_response(404, {"error": "not_found", "message": "No such device"})
        severity = body.get("severity", "warning")
        if severity not in SEVERITIES:
            return _invalid(f"severity: {'|'.join(SEVERITIES)}")
        alert = self.add_alert(
            device_id,
            name,
            description=str(body.get("description", "")),
            severity=severity,
            emit=True,
        )
        return json_response(201, self.alert_view(alert))

    def _control_run_outcome(self, body: dict[str, Any]) -> httpx.Response:
        outcome, run_id, automation_id = (
            body.get("outcome"),
            body.get("run_id"),
            body.get("automation_id"),
        )
        if outcome not in RUN_OUTCOMES:
            return _invalid(f"outcome: {'|'.join(RUN_OUTCOMES)}")
        if (run_id is not None and run_id not in self._runs) or (
            automation_id is not None and automation_id not in self._automations
        ):
            return json_response(404, {"error": "not_found", "message": "No such run/automation"})
        try:
            self.set_run_outcome(outcome, run_id=run_id, automation_id=automation_id)
        except ValueError as exc:
            return json_response(409, {"error": "conflict", "message": str(exc)})
        return json_response(200, {"ok": True})

    def _control_rate_limit(self, body: dict[str, Any]) -> httpx.Response:
        times, retry_after = body.get("times", 1), body.get("retry_after")
        if times is not None and (type(times) is not int or times < 1):
            return _invalid("times must be an integer >= 1 or null")
        if retry_after is not None and (
            type(retry_after) not in (int, float, str)
            or (not isinstance(retry_after, str) and retry_after < 0)
        ):
            return _invalid("retry_after is seconds >= 0, a string, or null")
        if body.get("retry_after_http_date"):
            if isinstance(retry_after, str) or retry_after is None:
                return _invalid("retry_after_http_date needs retry_after in seconds")
            retry_after = self.http_date(retry_after)
        method, path = body.get("method"), body.get("path")
        if not all(v is None or isinstance(v, str) for v in (method, path)):
            return _invalid("method and path are strings")
        self.force_429(times, retry_after=retry_after, method=method, path=path)
        return json_response(201, {"ok": True})

    def _control_webhooks(self, body: dict[str, Any]) -> httpx.Response:
        url, secret, event_types = body.get("url"), body.get("secret"), body.get("event_types")
        if not isinstance(url, str) or not url:
            return _invalid("url is required")
        if secret is not None and not isinstance(secret, str):
            return _invalid("secret must be a string")
        if event_types is not None and (
            not isinstance(event_types, list) or not set(event_types) <= EVENT_TYPES
        ):
            return _invalid(f"event_types: a list of {', '.join(sorted(EVENT_TYPES))}")
        endpoint = self.add_webhook_endpoint(
            url, secret=secret, event_types=None if event_types is None else set(event_types)
        )
        return json_response(201, {"id": endpoint.id})

    # -- demo ---------------------------------------------------------------------------

    def mint_credentials(self, *, write: bool = True) -> dict[str, str]:
        """A new API key for the organization (read/write unless ``write=False``)."""
        return {"api_key": self.add_api_key(write=write)}

    def seed_demo(self) -> dict[str, Any]:
        """Load a small demo organization and return how to reach it.

        Returns ``{"api_key", "read_only_key", "group_ids", "device_ids",
        "alert_ids" (active), "resolved_alert_ids", "update_ids",
        "automation_ids", "webhook_tokens", "auth_webhook_token"}``.
        """
        with self._lock:
            api_key = self.add_api_key(DEMO_API_KEY)
            read_only_key = self.add_api_key(DEMO_READ_ONLY_KEY, write=False)
            contoso = self.add_group("Contoso Dental")
            main = self.add_group("Main Office", parent_id=contoso.id)
            front = self.add_group("Front Desk", parent_id=main.id)
            fabrikam = self.add_group("Fabrikam Legal")
            server = self.add_device(
                "CONTOSO-DC01",
                group_id=main.id,
                full_operating_system="Microsoft Windows Server 2022 Standard 21H2",
                os_version="10.0.20348",
                role="server",
                serial_number="CZ2049XK",
                tags=["server", "domain-controller"],
                security_score=91,
            )
            laptop = self.add_device(
                "CONTOSO-LT042",
                group_id=front.id,
                nickname="Front desk laptop",
                os_version="10.0.22631",
                serial_number="5CG1234ABC",
                tags=["laptop"],
                security_score=72,
                security={"pending_reboot": True},
            )
            mac = self.add_device(
                "Dr-Mac-Mini",
                group_id=contoso.id,
                platform="Mac",
                full_operating_system="macOS Sonoma 14.4.1",
                os_name="macOS",
                os_version="14.4.1",
                architecture="arm64",
                serial_number="C02ZX1YZMD6M",
                security_score=84,
            )
            nas = self.add_device(
                "fabrikam-nas",
                group_id=fabrikam.id,
                platform="Linux",
                full_operating_system="Ubuntu 22.04.4 LTS",
                os_name="Ubuntu",
                os_version="22.04.4",
                role="server",
                tags=["storage"],
                security_score=65,
            )
            self.set_online(mac.id, False)
            active = [
                self.add_alert(
                    server.id,
                    "CPU usage",
                    description="CPU usage >90.0% for 15 minutes",
                    severity="critical",
                    started_ago=1800,
                ),
                self.add_alert(
                    laptop.id,
                    "Disk space",
                    description="Disk C: has less than 5% free space",
                    severity="warning",
                    started_ago=7200,
                ),
            ]
            resolved = self.add_alert(
                nas.id,
                "Device offline",
                description="Device has not checked in for 10 minutes",
                severity="information",
                started_ago=86_400,
                resolved=True,
            )
            updates = [
                self.add_update(server.id, "2024-04 Cumulative Update (KB5036909)"),
                self.add_update(server.id, "Defender definitions 1.409.12.0", installed_ago=3600),
                self.add_update(laptop.id, "Google Chrome 124.0.6367.61", category="Application"),
                self.add_update(mac.id, "macOS Sonoma 14.4.1", installed_ago=604_800),
                self.add_update(nas.id, "openssl 3.0.2-0ubuntu1.15"),
            ]
            automations: list[Automation] = []
            tokens: list[str] = []
            auth_token = ""
            for i, (name, has_webhook) in enumerate(_DEMO_AUTOMATIONS):
                group_id = (contoso.id, None, fabrikam.id)[i % 3]
                automation = self.add_automation(
                    name, description=f"{name} (demo automation).", group_id=group_id
                )
                automations.append(automation)
                if has_webhook:
                    trigger = self.add_webhook_trigger(
                        automation.id, requires_authorization_header=name == "Reboot device"
                    )
                    tokens.append(trigger.token)
                    if trigger.requires_authorization_header:
                        auth_token = trigger.token
            return {
                "api_key": api_key,
                "read_only_key": read_only_key,
                "group_ids": [contoso.id, main.id, front.id, fabrikam.id],
                "device_ids": [server.id, laptop.id, mac.id, nas.id],
                "alert_ids": [a.id for a in active],
                "resolved_alert_ids": [resolved.id],
                "update_ids": [u.id for u in updates],
                "automation_ids": [a.id for a in automations],
                "webhook_tokens": tokens,
                "auth_webhook_token": auth_token,
            }


def _invalid(message: str) -> httpx.Response:
    return json_response(400, {"error": "invalid", "message": message})
