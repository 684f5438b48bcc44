"""Running things on Tactical RMM agents: a library script, a shell command, a reboot.

**Before sending**, each looks the agent up (``GET /agents/{agent_id}/``,
read-only). An offline or overdue agent is not sent anything: with
``if_offline: fail`` (the default) the step ends AGENT_OFFLINE naming the
agent and when it was last seen; with ``if_offline: wait`` it answers
``Pending(rerun=True)``, so the executor releases the worker and starts the
step over every so often until the agent is back (then it runs once) or
``offline_timeout`` passes (TIMEOUT, nothing sent).

**Sending** is one mutating request, and nothing after it can make the
executor send it again: the answers that are not a success are either
definite (AGENT_OFFLINE, a 4xx refusal) or prove nothing reached the agent
(``"natsdown"``, retried); a 5xx or a lost answer after sending ends
OUTCOME_UNKNOWN (the executor's dispatched mark).

**Waiting for output.** The server holds a waited request until the agent
answers, up to ``timeout + 3`` seconds for a script and ``timeout + 2`` for
a command. A script whose ``timeout`` is at most :data:`SYNC_WAIT_MAX` (120
s, above the default 90 s, so a usual quick script answers at once) is
waited for like that. A longer one is started without waiting and its output
is collected from the agent's history by the action's check step
(``history.py``), every few seconds, until the script's timeout plus
:data:`HISTORY_GRACE` has passed (TIMEOUT): a worker, an HTTP connection and
one of the server's request workers are not held for up to an hour.
Commands have no such mode on the server, so a command is always waited for.
"""

from __future__ import annotations

from typing import Any

from actionkit.context import ActionContext, Pending
from actionkit.errors import ActionFailure
from integrations.tacticalrmm import history
from integrations.tacticalrmm.client import AgentUnreachable, TacticalRmmClient
from integrations.tacticalrmm.connection import client_for
from integrations.tacticalrmm.models import (
    OnAgentInput,
    RebootAgentInput,
    RebootAgentOutput,
    RunCommandInput,
    RunOutput,
    RunScriptInput,
    WireAgent,
    instant,
    online,
    text,
)

# The server's own hold beyond the run's timeout (script: +3 s, command: +2 s),
# plus time for the answer to travel.
SERVER_GRACE = 3.0
ANSWER_MARGIN = 10.0
# Scripts that may run longer than this are collected from history, not waited for:
# a waited run holds a worker and an HTTP connection (and one of the server's
# request workers) for its whole length.
SYNC_WAIT_MAX = 120
# After a started script's timeout: time for the agent to pick the run up and report.
HISTORY_GRACE = 120.0
# How often a started script's history is read: first soon (most scripts are
# quick), then a tenth of its timeout, between these bounds.
FIRST_CHECK = 5.0
MIN_CHECK_EVERY = 5.0
MAX_CHECK_EVERY = 30.0
# How often an offline agent is looked at again: a tenth of offline_timeout, within these.
MIN_OFFLINE_RECHECK = 2.0
MAX_OFFLINE_RECHECK = 60.0
# The connection's default answer timeout for requests that do not wait on an agent.
DEFAULT_TIMEOUT = 30.0


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


def collects_from_history(inp: RunScriptInput) -> bool:
    """Whether a script run's output is collected from history rather than waited for."""
    return inp.wait_for_output and inp.timeout > SYNC_WAIT_MAX


def _bounded(seconds: float, low: float, high: float) -> float:
    return max(low, min(high, seconds))


def _seen(agent: WireAgent) -> tuple[str, dict[str, Any]]:
    """ ", last seen <when>" (or nothing) and the details naming the agent's state."""
    last_seen = instant(agent.last_seen)
    shown = None if last_seen is None else last_seen.isoformat()
    details: dict[str, Any] = {
        "agent_online": online(agent.status),
        "status": text(agent.status),
        "last_seen_at": shown,
    }
    return ("" if shown is None else f", last seen {shown}"), details


def _when_offline(client: TacticalRmmClient, inp: OnAgentInput) -> Pending | None:
    """None when the agent can be sent to; else defer (``wait``) or AGENT_OFFLINE (``fail``).

    An agent whose status the server does not give is treated as online: the
    send itself then says whether it answered.
    """
    agent = client.get_agent(inp.agent_id)
    if online(agent.status) is not False:
        return None
    seen, details = _seen(agent)
    status = text(agent.status) or "offline"
    if inp.if_offline == "wait":
        return Pending(
            check_after=_bounded(
                inp.offline_timeout / 10, MIN_OFFLINE_RECHECK, MAX_OFFLINE_RECHECK
            ),
            timeout=inp.offline_timeout,
            state={"agent_id": inp.agent_id, **details},
            note=(
                f"agent {inp.agent_id} is {status}{seen}; waiting up to "
                f"{inp.offline_timeout}s for it to come back (nothing sent yet)"
            ),
            rerun=True,
        )
    raise AgentUnreachable(
        f"Tactical RMM agent {inp.agent_id} is {status}{seen}; nothing was sent "
        "(if_offline: wait waits for it to come back)",
        details={"agent_id": inp.agent_id, "sent": False, **details},
    )


def _unreachable(client: TacticalRmmClient, agent_id: str, error: AgentUnreachable) -> None:
    """Re-raise ``error`` (a sent run the agent did not answer) naming when it was last seen."""
    details: dict[str, Any] = {"agent_id": agent_id, "sent": True}
    seen = ""
    try:
        agent = client.get_agent(agent_id)
    except ActionFailure:
        pass  # the failure is already named; a failed look adds nothing
    else:
        seen, more = _seen(agent)
        details |= more
    raise AgentUnreachable(
        f"Tactical RMM agent {agent_id} is offline or unreachable{seen}: {error.message}",
        vendor=error.vendor,
        details=details,
    ) from None


def run_script(inp: RunScriptInput, ctx: ActionContext) -> RunOutput | Pending:
    """``POST /agents/{agent_id}/runscript/`` with every key the server requires.

    Waited (short), started (``wait_for_output: false``), or started and
    collected from history (long): see the module docstring.
    """
    later = collects_from_history(inp)
    waits = inp.wait_for_output and not later
    with client_for(
        ctx, timeout=answer_timeout(inp.timeout) if waits else DEFAULT_TIMEOUT
    ) as client:
        deferred = _when_offline(client, inp)
        if deferred is not None:
            return deferred
        after = history.newest_id(history.agent_history(client, inp.agent_id)) if later else 0
        body = {
            "script": inp.script_id,
            # Any mode but a waiting one starts the script and answers at once.
            "output": "wait" if waits else "forget",
            "args": list(inp.args),
            "env_vars": list(inp.env_vars),
            "run_as_user": inp.run_as_user,
            "timeout": inp.timeout,
        }
        try:
            data = client.run_script(inp.agent_id, body)
        except AgentUnreachable as exc:
            _unreachable(client, inp.agent_id, exc)
            raise
    if later:
        return Pending(
            check_after=FIRST_CHECK,
            timeout=inp.timeout + HISTORY_GRACE,
            state={"after": after, "started": ctx.now().isoformat()},
            note=(
                f"script {inp.script_id} started on agent {inp.agent_id}; collecting its "
                "output from the agent's history"
            ),
        )
    return RunOutput(
        run_requested=True,
        agent_id=inp.agent_id,
        output=output_of(data) if waits else None,
        vendor_response=data,
    )


def check_run_script(
    inp: RunScriptInput, state: dict[str, Any], ctx: ActionContext
) -> RunOutput | Pending:
    """A started script's output from the agent's history, or Pending until it is there."""
    with client_for(ctx) as client:
        entries = history.agent_history(client, inp.agent_id)
    run = history.script_run_after(entries, inp.script_id, int(state.get("after") or 0))
    results = None if run is None else history.results_of(run)
    if run is None or results is None:
        seen = "not yet in the history" if run is None else f"history entry {run.id}, no result yet"
        return Pending(
            check_after=_bounded(inp.timeout / 10, MIN_CHECK_EVERY, MAX_CHECK_EVERY),
            state=state,
            note=(
                f"script {inp.script_id} started on agent {inp.agent_id} at "
                f"{state.get('started')}; its run is {seen}"
            ),
        )
    return RunOutput(
        run_requested=True,
        agent_id=inp.agent_id,
        output=history.output_of_results(results),
        vendor_response=results,
    )


def run_command(inp: RunCommandInput, ctx: ActionContext) -> RunOutput | Pending:
    """``POST /agents/{agent_id}/cmd/``: the command's output (the server has no async mode)."""
    body: dict[str, Any] = {
        "shell": inp.shell,
        "cmd": inp.command,
        "timeout": inp.timeout,
        "run_as_user": inp.run_as_user,
    }
    if inp.custom_shell is not None:
        body["custom_shell"] = inp.custom_shell
    with client_for(ctx, timeout=answer_timeout(inp.timeout)) as client:
        deferred = _when_offline(client, inp)
        if deferred is not None:
            return deferred
        try:
            data = client.run_command(inp.agent_id, body)
        except AgentUnreachable as exc:
            _unreachable(client, inp.agent_id, exc)
            raise
    return RunOutput(
        run_requested=True, agent_id=inp.agent_id, output=output_of(data), vendor_response=data
    )


def reboot_agent(inp: RebootAgentInput, ctx: ActionContext) -> RebootAgentOutput | Pending:
    """``POST /agents/{agent_id}/reboot/``: restart the agent's computer now."""
    with client_for(ctx) as client:
        deferred = _when_offline(client, inp)
        if deferred is not None:
            return deferred
        try:
            client.reboot(inp.agent_id)
        except AgentUnreachable as exc:
            _unreachable(client, inp.agent_id, exc)
            raise
    return RebootAgentOutput(reboot_requested=True, agent_id=inp.agent_id)
