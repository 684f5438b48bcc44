"""Scripts, and running scripts, commands and reboots on agents.

- ``GET /scripts/``: array ordered by category; ``showCommunityScripts``
  (default true; ``false``: only ``userdefined``), ``showHiddenScripts``
  (default false).
- ``POST /agents/{agent_id}/runscript/``: unknown agent/script -> 404
  ``No Agent|Script matches the given query.``; any of ``script, output,
  args, run_as_user, env_vars, timeout`` missing -> 500 (a ``KeyError``).
  ``output`` ``wait``/``note``/``collector``: the agent's output as a JSON
  string; an offline agent -> 200 ``"timeout"`` once ``timeout + 3``
  seconds have passed; NATS down -> 200 ``"natsdown"``. Any other value
  (``forget``, ``email``): 200 ``"<script> will now be run on <hostname>"``
  and the result reaches the agent's history ``script_result_delay`` seconds
  later on the fake's clock (never, if the agent was offline).
- ``POST /agents/{agent_id}/cmd/``: ``timeout``, ``shell``, ``cmd``,
  ``run_as_user`` (and ``custom_shell`` when ``shell`` is ``custom``) or 500;
  output as a JSON string; offline -> 400 ``"Unable to contact the agent"``
  after ``timeout + 2`` s; NATS down -> 200 ``"natsdown"``.
- ``POST /agents/{agent_id}/reboot/``: 200 ``"ok"``; offline -> 400
  ``"Unable to contact the agent"``.

Waiting: the vendor holds the request while it waits for the agent. The fake
passes that wait to its ``sleep``: with a :class:`~sandbox.core.ManualClock`
the clock jumps by the full ``timeout + 3`` and nothing blocks; with a real
clock the wait is capped at ``max_wait`` seconds (default 2) so a demo does
not hang on an offline agent. The wait happens under the fake's lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.core import ManualClock, SandboxRequest, json_response, route
from sandbox.tacticalrmm.agents import Agent, Agents
from sandbox.tacticalrmm.api import detail, iso, server_error

__all__ = ["RUNSCRIPT_KEYS", "WAIT_MODES", "Runs", "Script"]

RUNSCRIPT_KEYS = ("script", "output", "args", "run_as_user", "env_vars", "timeout")
CMD_KEYS = ("timeout", "shell", "cmd", "run_as_user")
WAIT_MODES = frozenset({"wait", "note", "collector"})
UNREACHABLE = "Unable to contact the agent"


@dataclass
class Script:
    """A script in the library; ``output``/``retcode`` are what agents answer when it runs."""

    id: int
    name: str
    shell: str = "powershell"
    category: str = "Maintenance"
    description: str = ""
    script_type: str = "userdefined"
    hidden: bool = False
    default_timeout: int = 90
    args: list[str] = field(default_factory=list)
    env_vars: list[str] = field(default_factory=list)
    output: str = ""
    retcode: int = 0

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "script_type": self.script_type,
            "shell": self.shell,
            "args": self.args,
            "category": self.category,
            "favorite": False,
            "default_timeout": self.default_timeout,
            "syntax": "",
            "filename": f"{self.name}.ps1" if self.shell == "powershell" else self.name,
            "hidden": self.hidden,
            "supported_platforms": ["windows"] if self.shell in ("powershell", "cmd") else [],
            "run_as_user": False,
            "env_vars": self.env_vars,
        }


class Runs(Agents):
    """The script library and what agents do when asked to run something."""

    def __init__(
        self, *, script_result_delay: float = 5.0, max_wait: float = 2.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.script_result_delay = script_result_delay
        self.max_wait = max_wait
        self._scripts: dict[int, Script] = {}
        self._pending: list[tuple[float, dict[str, Any], Script]] = []
        self.command_outputs: dict[str, str] = {}
        """What ``cmd`` answers for a command (default: empty output)."""
        self.reboots: list[str] = []
        """Agent ids that accepted a reboot, in order."""

    def add_script(self, name: str, **fields: Any) -> Script:
        """A script in the library (fields as :class:`Script`)."""
        with self._lock:
            script = Script(len(self._scripts) + 1, name, **fields)
            self._scripts[script.id] = script
            return script

    def _settle_runs(self) -> None:
        now = self.now()
        due = [p for p in self._pending if p[0] <= now]
        self._pending = [p for p in self._pending if p[0] > now]
        for _, entry, script in due:
            entry["script_results"] = _results(script)

    def _wait(self, seconds: float) -> None:
        if not isinstance(self.clock, ManualClock):
            seconds = min(seconds, self.max_wait)
        self.sleep(seconds)

    def _history(self, agent: Agent, kind: str, user: str, **fields: Any) -> dict[str, Any]:
        self._history_ids += 1
        entry: dict[str, Any] = {
            "id": self._history_ids,
            "time": iso(self.epoch()),
            "type": kind,
            "command": "",
            "username": user,
            "script": None,
            "script_name": None,
            "results": None,
            "script_results": None,
            "agent": agent.pk,
            **fields,
        }
        agent.history.append(entry)
        return entry

    # -- views ------------------------------------------------------------------

    @route("GET", "/scripts/")
    def list_scripts(self, req: SandboxRequest) -> httpx.Response:
        """The script library, ordered by category."""
        community = req.arg("showCommunityScripts") != "false"
        hidden = req.arg("showHiddenScripts") == "true"
        scripts = [
            s
            for s in self._scripts.values()
            if (community or s.script_type == "userdefined") and (hidden or not s.hidden)
        ]
        scripts.sort(key=lambda s: (s.category, s.id))
        return json_response(200, [s.view() for s in scripts])

    @route("POST", "/agents/{agent_id}/runscript/")
    def run_script(self, req: SandboxRequest) -> httpx.Response:
        """Run a library script: wait for its output or start it and answer at once."""
        agent = self._by_agent_id(req)
        if isinstance(agent, httpx.Response):
            return agent
        body = req.body if isinstance(req.body, dict) else {}
        if "script" not in body:
            return server_error()
        script = self._scripts.get(body["script"]) if isinstance(body["script"], int) else None
        if script is None:
            return detail(404, "No Script matches the given query.")
        if any(key not in body for key in RUNSCRIPT_KEYS):
            return server_error()
        try:
            timeout = int(body["timeout"])
        except (TypeError, ValueError):
            return server_error()
        user = req.context.get("username", "")
        entry = self._history(agent, "script_run", user, script=script.id, script_name=script.name)
        if body["output"] not in WAIT_MODES:
            if agent.online and not self.nats_down:
                self._pending.append((self.now() + self.script_result_delay, entry, script))
            return json_response(200, f"{script.name} will now be run on {agent.hostname}")
        if self.nats_down:
            return json_response(200, "natsdown")
        if not agent.online:
            self._wait(timeout + 3)
            return json_response(200, "timeout")
        entry["script_results"] = _results(script)
        return json_response(200, script.output)

    @route("POST", "/agents/{agent_id}/cmd/")
    def run_command(self, req: SandboxRequest) -> httpx.Response:
        """Run a shell command and answer its output."""
        agent = self._by_agent_id(req)
        if isinstance(agent, httpx.Response):
            return agent
        body = req.body if isinstance(req.body, dict) else {}
        if any(key not in body for key in CMD_KEYS):
            return server_error()
        if body["shell"] == "custom" and "custom_shell" not in body:
            return server_error()
        try:
            timeout = int(body["timeout"])
        except (TypeError, ValueError):
            return server_error()
        if self.nats_down:
            return json_response(200, "natsdown")
        if not agent.online:
            self._wait(timeout + 2)
            return json_response(400, UNREACHABLE)
        output = self.command_outputs.get(str(body["cmd"]), "")
        user = req.context.get("username", "")
        self._history(agent, "cmd_run", user, command=str(body["cmd"]), results=output)
        return json_response(200, output)

    @route("POST", "/agents/{agent_id}/reboot/")
    def reboot(self, req: SandboxRequest) -> httpx.Response:
        """Reboot now."""
        agent = self._by_agent_id(req)
        if isinstance(agent, httpx.Response):
            return agent
        if not agent.online or self.nats_down:
            return json_response(400, UNREACHABLE)
        self.reboots.append(agent.agent_id)
        return json_response(200, "ok")


def _results(script: Script) -> dict[str, Any]:
    return {
        "id": script.id,
        "stdout": script.output,
        "stderr": "",
        "retcode": script.retcode,
        "execution_time": 1.2,
    }
