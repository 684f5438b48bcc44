"""Firing a webhook trigger, and the automation runs it creates.

``POST /v2/automations/webhooks/{token}`` with an optional JSON object body
``{"device_ids": [...]}``:

- unknown (or deleted) token -> 404 ``{"error": "Webhook not found"}``;
- a trigger with "Require an authorization header" needs a read/write key in
  ``Authorization`` (vendors.md §2): none or unknown -> 401 ``Access denied``,
  read-only -> 403 (:mod:`sandbox.levelio.auth`). A trigger without it takes
  no key and ignores ``Authorization`` *(choice: the token is the secret)*;
- a body that is not a JSON object, ``device_ids`` that is not a list of
  strings, or an unknown device id -> 400 *(choice)*;
- success -> 200 and one run per device (one run without a device when
  ``device_ids`` is empty or absent). Level does not document the answer
  (vendors.md §2; the "Webhook Trigger" page,
  https://docs.level.io/en/articles/13909069-webhook-trigger, shows only the
  URL, the authorization header and parameter mapping), so the body is a
  switch, ``trigger_body``: ``empty`` (no body; the default *(choice)*),
  ``run`` (``{"run_id": <first run>, "run_ids": [...]}`` *(choice: no
  documented shape)*) or ``ok`` (``{"success": true}``).

Runs (fields *(choice)*, after vendors.md §2 "Run": ``id, automation_id,
automation_name, device_id, device_hostname, status, created_at,
started_at, ended_at``):

- ``GET /v2/automation-runs/{id}`` -> the run; ``steps`` only with
  ``include_steps=true``; unknown -> 404 ``Automation run not found``.
- ``GET /v2/automation-runs?automation_id=&device_id=`` -> cursor list,
  newest first. **(choice: Level's docs show no such list route.)** It lets a
  client find the run a trigger created; an integration must treat it as
  optional.
- A run is ``pending`` for ``run_start_delay`` seconds of the fake's clock
  (``started_at`` null), then ``running`` for ``run_duration`` seconds, then
  ``success`` or ``failed`` (``ended_at`` set). Its outcome is fixed when it
  is created (the automation's override, else ``run_outcome``) and can be
  changed until it ends (:meth:`Runs.set_run_outcome`).
- Steps ``{name, status, started_at, ended_at}`` split the running time
  evenly: done ones ``success``, the current one ``running``, later ones
  ``pending``; a failed run's last step is ``failed`` *(choice)*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.core import SandboxRequest, empty_response, json_response, route
from sandbox.levelio.api import error, truthy
from sandbox.levelio.automations import Automations, WebhookTrigger

__all__ = ["RUN_OUTCOMES", "TRIGGER_BODIES", "AutomationRun", "Runs"]

TRIGGER_BODIES = ("empty", "run", "ok")
RUN_OUTCOMES = ("success", "failed")


@dataclass
class AutomationRun:
    """One run of an automation on one device (or none); times on the fake's clock."""

    id: str
    automation_id: str
    device_id: str | None
    trigger_id: str
    created: float
    start_delay: float
    duration: float
    outcome: str

    @property
    def started(self) -> float:
        return self.created + self.start_delay

    @property
    def ended(self) -> float:
        return self.started + self.duration

    def status(self, now: float) -> str:
        """``pending``, ``running``, or the outcome once it has ended."""
        if now < self.started:
            return "pending"
        if now < self.ended:
            return "running"
        return self.outcome


class Runs(Automations):
    """The webhook trigger and automation runs."""

    def __init__(
        self,
        *,
        run_start_delay: float = 2.0,
        run_duration: float = 10.0,
        trigger_body: str = "empty",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if trigger_body not in TRIGGER_BODIES:
            raise ValueError(f"trigger_body is one of {TRIGGER_BODIES}")
        self.run_start_delay = run_start_delay
        self.run_duration = run_duration
        self.trigger_body = trigger_body
        """What a successful trigger answers: ``empty``, ``run`` or ``ok``."""
        self.run_outcome = "success"
        """How new runs end unless their automation says otherwise."""
        self._runs: dict[str, AutomationRun] = {}

    @property
    def runs(self) -> list[AutomationRun]:
        """Every run, oldest first."""
        with self._lock:
            return list(self._runs.values())

    def set_run_outcome(
        self, outcome: str, *, run_id: str | None = None, automation_id: str | None = None
    ) -> None:
        """Make runs end ``success`` or ``failed``.

        ``run_id``: that run (ValueError once it has ended); ``automation_id``:
        that automation's new runs; neither: every new run without an override.
        """
        if outcome not in RUN_OUTCOMES:
            raise ValueError(f"outcome is one of {RUN_OUTCOMES}")
        with self._lock:
            if run_id is not None:
                run = self._runs[run_id]
                if self.now() >= run.ended:
                    raise ValueError(f"run {run_id} has already ended")
                run.outcome = outcome
            elif automation_id is not None:
                self._automations[automation_id].outcome = outcome
            else:
                self.run_outcome = outcome

    def _start_runs(self, trigger: WebhookTrigger, device_ids: list[str]) -> list[AutomationRun]:
        automation = self._automations[trigger.automation_id]
        started: list[AutomationRun] = []
        targets: list[str | None] = list(device_ids) or [None]
        for device_id in targets:
            run = AutomationRun(
                self._new_id("run"),
                automation.id,
                device_id,
                trigger.id,
                self.now(),
                self.run_start_delay,
                self.run_duration,
                automation.outcome or self.run_outcome,
            )
            self._runs[run.id] = run
            started.append(run)
        return started

    def run_view(self, run: AutomationRun, *, steps: bool = False) -> dict[str, Any]:
        """A run as the API shows it, with ``steps`` when asked for."""
        now = self.now()
        status = run.status(now)
        view: dict[str, Any] = {
            "id": run.id,
            "automation_id": run.automation_id,
            "automation_name": self._automations[run.automation_id].name,
            "device_id": run.device_id,
            "device_hostname": self._hostname(run.device_id),
            "status": status,
            "created_at": self.iso_at(run.created),
            "started_at": None if status == "pending" else self.iso_at(run.started),
            "ended_at": self.iso_at(run.ended) if status in RUN_OUTCOMES else None,
        }
        if steps:
            view["steps"] = self._steps(run, status, now)
        return view

    def _steps(self, run: AutomationRun, status: str, now: float) -> list[dict[str, Any]]:
        names = self._automations[run.automation_id].steps
        if not names:
            return []
        share = run.duration / len(names)
        if status == "pending":
            current = -1
        elif status == "running":
            current = min(len(names) - 1, int((now - run.started) / share)) if share else 0
        else:
            current = len(names)
        out: list[dict[str, Any]] = []
        for i, name in enumerate(names):
            begin, end = run.started + i * share, run.started + (i + 1) * share
            if i < current:
                state = "success"
            elif i == current:
                state = "running"
            else:
                state = "pending"
            if status == "failed" and i == len(names) - 1:
                state = "failed"
            out.append(
                {
                    "name": name,
                    "status": state,
                    "started_at": self.iso_at(begin) if i <= current else None,
                    "ended_at": self.iso_at(end) if i < current else None,
                }
            )
        return out

    # -- routes -----------------------------------------------------------------

    @route("POST", "/v2/automations/webhooks/{token}")
    def trigger(self, req: SandboxRequest) -> httpx.Response:
        """Fire a webhook trigger: one run per device."""
        trigger = self._triggers.get(req.path_params["token"])
        if trigger is None:
            return error(404, "Webhook not found")
        if trigger.requires_authorization_header:
            refused = self._authorize(req, write=True)
            if refused is not None:
                return refused
        body: Any = {} if not req.content else req.body
        if not (isinstance(body, dict) and (req.is_json or not req.content)):
            return error(400, "Request body must be a JSON object")
        device_ids = body.get("device_ids", [])
        if not isinstance(device_ids, list) or not all(isinstance(d, str) for d in device_ids):
            return error(400, "device_ids must be an array of device ids")
        unknown = [d for d in device_ids if d not in self._devices]
        if unknown:
            return error(400, f"Unknown device id: {unknown[0]}")
        runs = self._start_runs(trigger, device_ids)
        if self.trigger_body == "run":
            return json_response(200, {"run_id": runs[0].id, "run_ids": [r.id for r in runs]})
        if self.trigger_body == "ok":
            return json_response(200, {"success": True})
        return empty_response(200)

    @route("GET", "/v2/automation-runs")
    def list_runs(self, req: SandboxRequest) -> httpx.Response:
        """Runs, newest first, filtered by ``automation_id`` and ``device_id`` *(choice)*."""
        runs = list(reversed(self._runs.values()))
        automation_id = req.arg("automation_id")
        if automation_id:
            runs = [r for r in runs if r.automation_id == automation_id]
        device_id = req.arg("device_id")
        if device_id:
            runs = [r for r in runs if r.device_id == device_id]
        return self.cursor_page(req, runs, self.run_view)

    @route("GET", "/v2/automation-runs/{run_id}")
    def get_run(self, req: SandboxRequest) -> httpx.Response:
        """One run; ``steps`` only with ``include_steps=true``."""
        run = self._runs.get(req.path_params["run_id"])
        if run is None:
            return error(404, "Automation run not found")
        return json_response(200, self.run_view(run, steps=truthy(req.arg("include_steps"))))
