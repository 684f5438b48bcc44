"""FakeNinjaOne: a stateful NinjaOne instance (OAuth token endpoint + public API v2).

Sources: the vendor's OpenAPI 3.0.1 spec (``ninjaone-public-api-v2.yml``,
"NinjaOne Public API 2.0" 2.0.9-draft) and its RFC 8414 metadata
(``ninjaone-oauth-authorization-server.json``). Where the spec is silent
the choices are marked *(choice)* in the modules below; error bodies not in
the spec are the shapes NinjaOne is reported to return (the errors of
``/v2`` calls: :mod:`sandbox.ninjaone.oauth` and :mod:`sandbox.ninjaone.api`).

The base URL is the instance root (``http://127.0.0.1:PORT``); the API is
under ``/v2/...`` and OAuth under ``/ws/oauth/...``. All timestamps the API
returns are epoch **seconds** as floats (:meth:`FakeVendor.epoch`).

The instance is composed of one part per idea, each in its own module:

- :mod:`sandbox.ninjaone.oauth`: ``/ws/oauth/*`` (clients, grants, tokens)
  and the access-token check of every ``/v2`` call;
- :mod:`sandbox.ninjaone.devices`: organizations, locations, devices, with
  the ``df`` device filter in :mod:`sandbox.ninjaone.device_filter`;
- :mod:`sandbox.ninjaone.activities`: devices' activity logs;
- :mod:`sandbox.ninjaone.scripting`: scripts, actions, runs and jobs, and
  how a script run shows up in the activities (the correlation contract);
- :mod:`sandbox.ninjaone.reboots`: rebooting a device;
- :mod:`sandbox.ninjaone.alerts`: active alerts and resetting them;
- :mod:`sandbox.ninjaone.api`: the error shape they share.

Every ``/v2`` call needs ``Authorization: Bearer <access token>``. No error
body ever contains an access/refresh token or a client secret.

Control surface: besides the shared ``/__sandbox/`` endpoints
(:mod:`sandbox.core`), ``POST /__sandbox/credentials`` -> 201 ``{"client_id",
"client_secret", "refresh_token"}``: a fresh refresh token for the demo API
client (:meth:`FakeNinjaOne.mint_credentials`), because the one printed at
start rotates on first use.

Not modelled: offline devices run scripts and reboot like online ones;
no rate limit (inject a 429 :class:`~sandbox.core.Fault` instead).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response
from sandbox.ninjaone.activities import (
    ACTIVITY_PAGE_DEFAULT,
    ACTIVITY_PAGE_MAX,
    ACTIVITY_PAGE_MIN,
)
from sandbox.ninjaone.alerts import AlertReset, Alerts
from sandbox.ninjaone.device_filter import parse_device_filter
from sandbox.ninjaone.devices import os_family
from sandbox.ninjaone.oauth import GRANT_TYPES, SCOPES, OAuthServer
from sandbox.ninjaone.reboots import REBOOT_MODES, Reboot, Reboots
from sandbox.ninjaone.scripting import MAX_PARAMETERS, Scripting, ScriptRun

__all__ = [
    "ACTIVITY_PAGE_DEFAULT",
    "ACTIVITY_PAGE_MAX",
    "ACTIVITY_PAGE_MIN",
    "GRANT_TYPES",
    "MAX_PARAMETERS",
    "REBOOT_MODES",
    "SCOPES",
    "AlertReset",
    "FakeNinjaOne",
    "Reboot",
    "ScriptRun",
    "os_family",
    "parse_device_filter",
]


DEMO_CLIENT_ID = "patchbay-demo-client"
DEMO_CLIENT_SECRET = "patchbay-demo-secret"


class FakeNinjaOne(OAuthServer, Scripting, Reboots, Alerts):
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
        super().__init__(
            access_token_ttl=access_token_ttl,
            script_result_delay=script_result_delay,
            reboot_delay=reboot_delay,
            clock=clock,
            sleep=sleep,
            epoch_origin=epoch_origin,
        )

    def dispatch(self, req: SandboxRequest) -> httpx.Response:
        """Make due activities visible, authenticate ``/v2`` calls, then route."""
        self._settle()
        if req.path == "/v2" or req.path.startswith("/v2/"):
            refused = self._authorize(req)
            if refused is not None:
                return refused
        return super().dispatch(req)

    control_endpoints = (
        (
            "POST",
            "/__sandbox/credentials",
            "mint a fresh credential set: client id and secret, a new refresh token",
        ),
    )

    def control(self, req: SandboxRequest) -> httpx.Response | None:
        """``POST /__sandbox/credentials``: :meth:`mint_credentials` (see the module docstring)."""
        if (req.method, req.path) == ("POST", "/__sandbox/credentials"):
            return json_response(201, self.mint_credentials())
        return None

    def mint_credentials(self) -> dict[str, str]:
        """A credential set for the demo API client: its id and secret and a new refresh token.

        Registers the client first if the demo data is not loaded.
        """
        with self._lock:
            if not self.has_client(DEMO_CLIENT_ID):
                self.add_client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
            return {
                "client_id": DEMO_CLIENT_ID,
                "client_secret": DEMO_CLIENT_SECRET,
                "refresh_token": self.issue_refresh_token(DEMO_CLIENT_ID),
            }

    def seed_demo(self) -> dict[str, Any]:
        """Load a small demo tenant and return how to reach it.

        Returns ``{"client_id", "client_secret", "refresh_token", "device_ids",
        "script_ids", "action_uids", "alert_uids"}``.
        """
        with self._lock:
            client_id, client_secret = DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
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
