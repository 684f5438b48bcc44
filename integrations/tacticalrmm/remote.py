"""Running things on Tactical RMM agents: a library script, a shell command, a reboot.

Each sends one mutating request and nothing after it can make the executor
send it again: the answers that are not a success are either definite
(AGENT_OFFLINE, a 4xx refusal) or prove nothing reached the agent
(``"natsdown"``, retried); a 5xx or a lost answer after sending ends
OUTCOME_UNKNOWN (the executor's dispatched mark).

Waiting is synchronous: the server holds the request until the agent
answers, up to ``timeout + 3`` seconds for a script and ``timeout + 2`` for
a command, so the HTTP timeout is the run's own plus that and a margin.
"""

from __future__ import annotations

from typing import Any

from actionkit.context import ActionContext
from actionkit.errors import ActionFailure
from integrations.tacticalrmm.client import AgentUnreachable, TacticalRmmClient
from integrations.tacticalrmm.connection import client_for
from integrations.tacticalrmm.models import (
    RebootAgentInput,
    RebootAgentOutput,
    RunCommandInput,
    RunOutput,
    RunScriptInput,
    instant,
    online,
)

# The server's own hold beyond the run's timeout (script: +3 s, command: +2 s),
# plus time for the answer to travel.
SERVER_GRACE = 3.0
ANSWER_MARGIN = 10.0


def answer_timeout(run_timeout: int) -> float:
    """Seconds to wait for the server's answer to a run of ``run_timeout`` seconds."""
    return run_timeout + SERVER_GRACE + ANSWER_MARGIN


def output_of(data: Any) -> str | None:
    """The run's output: a string answer, else the first string of output/stdout/result."""
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        for key in ("output", "stdout", "result"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return None


def _unreachable(client: TacticalRmmClient, agent_id: str, error: AgentUnreachable) -> None:
    """Re-raise ``error`` naming the agent and when it was last seen (if the server says)."""
    details: dict[str, Any] = {"agent_id": agent_id}
    seen = ""
    try:
        agent = client.get_agent(agent_id)
    except ActionFailure:
        pass  # the failure is already named; a failed look adds nothing
    else:
        last_seen = instant(agent.last_seen)
        shown = None if last_seen is None else last_seen.isoformat()
        details |= {"agent_online": online(agent.status), "last_seen_at": shown}
        if shown is not None:
            seen = f", last seen {shown}"
    raise AgentUnreachable(
        f"Tactical RMM agent {agent_id} is offline or unreachable{seen}: {error.message}",
        vendor=error.vendor,
        details=details,
    ) from None


def run_script(inp: RunScriptInput, ctx: ActionContext) -> RunOutput:
    """``POST /agents/{agent_id}/runscript/`` with every key the server requires."""
    body = {
        "script": inp.script_id,
        # Any mode but a waiting one starts the script and answers at once.
        "output": "wait" if inp.wait_for_output else "forget",
        "args": list(inp.args),
        "env_vars": list(inp.env_vars),
        "run_as_user": inp.run_as_user,
        "timeout": inp.timeout,
    }
    with client_for(ctx, timeout=answer_timeout(inp.timeout)) as client:
        try:
            data = client.run_script(inp.agent_id, body)
        except AgentUnreachable as exc:
            _unreachable(client, inp.agent_id, exc)
            raise
    return RunOutput(
        run_requested=True,
        agent_id=inp.agent_id,
        output=output_of(data) if inp.wait_for_output else None,
        vendor_response=data,
    )


def run_command(inp: RunCommandInput, ctx: ActionContext) -> RunOutput:
    """``POST /agents/{agent_id}/cmd/``: the command's output."""
    body: dict[str, Any] = {
        "shell": inp.shell,
        "cmd": inp.command,
        "timeout": inp.timeout,
        "run_as_user": inp.run_as_user,
    }
    if inp.custom_shell is not None:
        body["custom_shell"] = inp.custom_shell
    with client_for(ctx, timeout=answer_timeout(inp.timeout)) as client:
        try:
            data = client.run_command(inp.agent_id, body)
        except AgentUnreachable as exc:
            _unreachable(client, inp.agent_id, exc)
            raise
    return RunOutput(
        run_requested=True, agent_id=inp.agent_id, output=output_of(data), vendor_response=data
    )


def reboot_agent(inp: RebootAgentInput, ctx: ActionContext) -> RebootAgentOutput:
    """``POST /agents/{agent_id}/reboot/``: restart the agent's computer now."""
    with client_for(ctx) as client:
        try:
            client.reboot(inp.agent_id)
        except AgentUnreachable as exc:
            _unreachable(client, inp.agent_id, exc)
            raise
    return RebootAgentOutput(reboot_requested=True, agent_id=inp.agent_id)
