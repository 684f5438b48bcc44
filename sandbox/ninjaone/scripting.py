"""Scripting: scripts, built-in actions, credentials, running them and the jobs in progress.

Markers *(choice)* as in :mod:`sandbox.ninjaone`.

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
- With a client-credentials token, a run is refused: 403 ``{"error":
  "user_context_required", "error_description": "Access key does not have
  user context which is required for this request", "error_code": 5}``.

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
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.core import SandboxRequest, empty_response, json_response, route
from sandbox.ninjaone.activities import Activities
from sandbox.ninjaone.devices import os_family
from sandbox.ninjaone.oauth import Grant

__all__ = ["MAX_PARAMETERS", "ScriptRun", "Scripting"]

MAX_PARAMETERS = 30_000

_ROLES = {
    "WINDOWS": ("SYSTEM", "LOGGED_ON_USER", "LOCAL_ADMIN", "DOMAIN_ADMIN"),
    "MAC": ("SYSTEM", "LOGGED_ON_USER", "PREFERRED_CREDENTIAL_MAC"),
    "LINUX": ("SYSTEM", "LOGGED_ON_USER", "PREFERRED_CREDENTIAL_LINUX"),
}


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


class Scripting(Activities):
    """Scripts and built-in actions a device is offered, and the runs of them.

    ``script_result_delay``: seconds until a run's COMPLETED activity appears.
    """

    def __init__(self, *, script_result_delay: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.script_result_delay = script_result_delay
        self._categories: dict[int, dict[str, Any]] = {}
        self._scripts: dict[int, _Script] = {}
        self._actions: dict[str, _Script] = {}
        self._credentials: dict[int, dict[str, Any]] = {}
        self._script_runs: list[ScriptRun] = []

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

    @property
    def script_runs(self) -> list[ScriptRun]:
        """Every accepted script/action run, oldest first."""
        with self._lock:
            return list(self._script_runs)

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
        grant: Grant = req.context["grant"]
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
        grant: Grant,
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
