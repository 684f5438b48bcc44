"""FakeTacticalRmm: a stateful Tactical RMM instance (the ``api.`` host).

Sources: vendors.md §1 "Vendor truth" (amidaware/tacticalrmm @2195c3b3) and
§5, and the generated OpenAPI spec for paths and methods. Base URL is the
instance root (``http://127.0.0.1:PORT``); paths are root-relative
(``/agents/...``, ``/scripts/``, ``/beta/v1/...``, ``/v2/...``). Choices
where the sources are silent are marked *(choice)* in the modules:

- :mod:`sandbox.tacticalrmm.api`: switches (``mode``, ``beta_enabled``,
  ``nats_down``) and Django/DRF answer shapes;
- :mod:`sandbox.tacticalrmm.auth`: users, API keys, Knox tokens, checkcreds, login;
- :mod:`sandbox.tacticalrmm.agents`: clients, sites, agents, online/offline,
  the beta list/detail and the string-id routes, history;
- :mod:`sandbox.tacticalrmm.runs`: scripts, runscript, cmd, reboot.

Order of a request: due async results and returning agents settle; a
``/beta/`` path with the beta API off, or a path no view serves, is Django's
HTML 404; then authentication (:mod:`sandbox.tacticalrmm.auth`); then the view.

Control surface, besides the shared one (:mod:`sandbox.core`):

- ``POST /__sandbox/switches`` ``{"beta_enabled"?, "nats_down"?, "mode"?}``;
- ``POST /__sandbox/agents/online`` ``{"agent_id", "online", "back_after"?}``;
- ``POST /__sandbox/knox/revoke`` ``{"token"?}`` (none: every token) ->
  ``{"revoked": n}``;
- ``POST /__sandbox/credentials`` -> 201 ``{"api_key"}``: a new API key of
  the demo user (:meth:`FakeTacticalRmm.mint_credentials`), one per tenant
  ``patchbay sandbox connect`` connects, so none shares another's key.

Not modelled: the daily login throttle, ``PUT`` on the beta agent,
``/beta/v1/client/``, collector custom fields and emails, run_on_server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response
from sandbox.tacticalrmm.agents import AGENT_ID_PATTERN, Agent
from sandbox.tacticalrmm.auth import CHECKCREDS_TTL, KNOX_TTL, User
from sandbox.tacticalrmm.runs import RUNSCRIPT_KEYS, WAIT_MODES, Runs, Script

__all__ = [
    "AGENT_ID_PATTERN",
    "CHECKCREDS_TTL",
    "KNOX_TTL",
    "RUNSCRIPT_KEYS",
    "WAIT_MODES",
    "Agent",
    "FakeTacticalRmm",
    "Script",
    "User",
]

DEMO_USERNAME = "patchbay-demo"
DEMO_PASSWORD = "patchbay-demo-password"
DEMO_API_KEY = "PATCHBAYDEMOAPIKEY0000000000000001"
DEMO_TOTP_USERNAME = "patchbay-demo-totp"
DEMO_TOTP_CODE = "123456"


class FakeTacticalRmm(Runs):
    """A stateful Tactical RMM instance; see the module docstring for its API.

    ``mode``: ``"vendor"`` or ``"alga"`` (:class:`~sandbox.tacticalrmm.api.TacticalApi`).
    ``knox_ttl``: seconds a login token lives. ``script_result_delay``: seconds
    until an async run's result reaches the history. ``max_wait``: cap on a
    real-clock wait for an unreachable agent.
    """

    def __init__(
        self,
        *,
        mode: str = "vendor",
        knox_ttl: float = KNOX_TTL,
        script_result_delay: float = 5.0,
        max_wait: float = 2.0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        epoch_origin: float | None = None,
    ) -> None:
        super().__init__(
            mode=mode,
            knox_ttl=knox_ttl,
            script_result_delay=script_result_delay,
            max_wait=max_wait,
            clock=clock,
            sleep=sleep,
            epoch_origin=epoch_origin,
        )

    def dispatch(self, req: SandboxRequest) -> httpx.Response:
        """Settle the clock's effects, 404 what Django would not route, authenticate, route."""
        self._settle_agents()
        self._settle_runs()
        beta_off = req.path.startswith("/beta/") and not self.beta_enabled
        if beta_off or not any(r.regex.match(req.path) for r in self._routes):
            return self.not_found(req)
        refused = self._authorize(req)
        if refused is not None:
            return refused
        return super().dispatch(req)

    control_endpoints = (
        ("POST", "/__sandbox/switches", 'set {"beta_enabled", "nats_down", "mode"}'),
        ("POST", "/__sandbox/agents/online", 'set {"agent_id", "online", "back_after"}'),
        ("POST", "/__sandbox/knox/revoke", 'revoke {"token"} or every Knox token'),
        ("POST", "/__sandbox/credentials", "mint a fresh credential set: a new API key"),
    )

    def control(self, req: SandboxRequest) -> httpx.Response | None:
        """The fake's own control endpoints (see the module docstring)."""
        if req.method != "POST":
            return None
        body = req.body if isinstance(req.body, dict) else {}
        if req.path == "/__sandbox/switches":
            if "mode" in body and body["mode"] not in ("vendor", "alga"):
                return json_response(400, {"error": "invalid", "message": "mode: vendor|alga"})
            self.beta_enabled = bool(body.get("beta_enabled", self.beta_enabled))
            self.nats_down = bool(body.get("nats_down", self.nats_down))
            self.mode = str(body.get("mode", self.mode))
            return json_response(200, {"ok": True})
        if req.path == "/__sandbox/agents/online":
            back_after = body.get("back_after")
            try:
                self.set_online(
                    str(body.get("agent_id")),
                    bool(body.get("online")),
                    back_after=None if back_after is None else float(back_after),
                )
            except (KeyError, TypeError, ValueError):
                return json_response(404, {"error": "not_found", "message": "No such agent"})
            return json_response(200, {"ok": True})
        if req.path == "/__sandbox/knox/revoke":
            token = body.get("token")
            revoked = self.revoke_knox_tokens(token if isinstance(token, str) else None)
            return json_response(200, {"revoked": revoked})
        if req.path == "/__sandbox/credentials":
            return json_response(201, self.mint_credentials())
        return None

    def mint_credentials(self) -> dict[str, str]:
        """A credential set for the demo user: a new API key acting as it.

        Creates the demo user first if the demo data is not loaded.
        """
        with self._lock:
            if DEMO_USERNAME not in self._users:
                self.add_user(DEMO_USERNAME, DEMO_PASSWORD)
            return {"api_key": self.add_api_key(DEMO_USERNAME)}

    def seed_demo(self) -> dict[str, Any]:
        """Load a small demo instance and return how to reach it.

        Returns ``{"api_key", "username", "password", "totp_username",
        "agent_ids", "agent_pks", "offline_agent_id", "script_ids"}``.
        """
        with self._lock:
            self.add_user(DEMO_USERNAME, DEMO_PASSWORD)
            self.add_user(DEMO_TOTP_USERNAME, DEMO_PASSWORD, totp_code=DEMO_TOTP_CODE)
            api_key = self.add_api_key(DEMO_USERNAME, DEMO_API_KEY)
            contoso = self.add_client("Contoso Dental")
            fabrikam = self.add_client("Fabrikam Legal")
            main = self.add_site(contoso, "Main Office")
            branch = self.add_site(contoso, "Branch")
            hq = self.add_site(fabrikam, "HQ")
            agents = [
                self.add_agent("CONTOSO-DC01", main, serial_number="CZ2049XK"),
                self.add_agent("CONTOSO-LT042", branch),
                self.add_agent("FABRIKAM-WS07", hq),
                self.add_agent(
                    "fabrikam-nas", hq, plat="linux", operating_system="Ubuntu 22.04.4 LTS"
                ),
            ]
            self.set_online(agents[2].agent_id, False)
            scripts = [
                self.add_script(
                    "Clear temp files",
                    description="Deletes files older than 7 days from the temp folders.",
                    output="Removed 1,284 files (2.3 GB).\n",
                ),
                self.add_script(  # noqa: S604 (shell is a script language here)
                    "Collect system logs",
                    shell="shell",
                    category="Diagnostics",
                    output="Logs written to /tmp/logs.tar.gz\n",
                ),
                self.add_script(
                    "Restart Print Spooler",
                    script_type="builtin",
                    category="Community",
                    output="Print Spooler restarted.\n",
                ),
            ]
            self.command_outputs["hostname"] = "CONTOSO-DC01\r\n"
            return {
                "api_key": api_key,
                "username": DEMO_USERNAME,
                "password": DEMO_PASSWORD,
                "totp_username": DEMO_TOTP_USERNAME,
                "agent_ids": [a.agent_id for a in agents],
                "agent_pks": [a.pk for a in agents],
                "offline_agent_id": agents[2].agent_id,
                "script_ids": [s.id for s in scripts],
            }
