"""The Tactical RMM actions: their specs, in catalog order.

Handlers are plain functions ``(input, ctx) -> output | Pending``: the reads
one module per noun (``agents.py``, ``scripts.py``), running things on agents
in ``remote.py`` (a long script's output comes from ``history.py``); the
connection and client they share are in ``connection.py``.
"""

from __future__ import annotations

from typing import Any

from actionkit.spec import ActionSpec, ActionUI
from catalog.actions import ActionRegistry
from integrations.tacticalrmm.agents import find_agents, get_agent
from integrations.tacticalrmm.connection import LABEL
from integrations.tacticalrmm.models import (
    MAX_RUN_TIMEOUT,
    FindAgentsInput,
    FindAgentsOutput,
    GetAgentInput,
    GetAgentOutput,
    ListScriptsInput,
    ListScriptsOutput,
    RebootAgentInput,
    RebootAgentOutput,
    RunCommandInput,
    RunOutput,
    RunScriptInput,
)
from integrations.tacticalrmm.remote import (
    SYNC_WAIT_MAX,
    answer_timeout,
    check_run_script,
    reboot_agent,
    run_command,
    run_script,
)
from integrations.tacticalrmm.scripts import list_scripts

__all__ = ["ACTIONS", "FIND_AGENTS", "register_actions"]

ICON = "tacticalrmm"


def _ui(label: str, description: str) -> ActionUI:
    return ActionUI(label=label, description=description, category=LABEL, icon=ICON)


FIND_AGENTS = ActionSpec(
    id="tacticalrmm.agents.find",
    version=1,
    input_model=FindAgentsInput,
    output_model=FindAgentsOutput,
    handler=find_agents,
    side_effectful=False,
    ui=_ui("Find agents", "Find Tactical RMM agents in the local mirror or live."),
)
GET_AGENT = ActionSpec(
    id="tacticalrmm.agents.get",
    version=1,
    input_model=GetAgentInput,
    output_model=GetAgentOutput,
    handler=get_agent,
    side_effectful=False,
    ui=_ui("Get agent", "One Tactical RMM agent by its agent id, with its status and client."),
)
LIST_SCRIPTS = ActionSpec(
    id="tacticalrmm.scripts.list",
    version=1,
    input_model=ListScriptsInput,
    output_model=ListScriptsOutput,
    handler=list_scripts,
    side_effectful=False,
    ui=_ui("List scripts", "Scripts in the Tactical RMM script library, filtered by name."),
)

# A waited run holds its step for as long as the server holds the request: a
# script at most SYNC_WAIT_MAX (longer ones are collected from history), a
# command (the server has no other mode) its whole timeout.
SCRIPT_TIME_LIMIT = answer_timeout(SYNC_WAIT_MAX) + 30.0
COMMAND_TIME_LIMIT = answer_timeout(MAX_RUN_TIMEOUT) + 30.0
RUN_SCRIPT = ActionSpec(
    id="tacticalrmm.agents.run_script",
    version=1,
    input_model=RunScriptInput,
    output_model=RunOutput,
    handler=run_script,
    check=check_run_script,
    side_effectful=True,
    time_limit=SCRIPT_TIME_LIMIT,
    ui=_ui(
        "Run script",
        "Run a script from the Tactical RMM library on an agent and, by default, return "
        "its output.",
    ),
)
RUN_COMMAND = ActionSpec(
    id="tacticalrmm.agents.run_command",
    version=1,
    input_model=RunCommandInput,
    output_model=RunOutput,
    handler=run_command,
    side_effectful=True,
    time_limit=COMMAND_TIME_LIMIT,
    ui=_ui("Run command", "Run a shell command on a Tactical RMM agent and return its output."),
)
REBOOT_AGENT = ActionSpec(
    id="tacticalrmm.agents.reboot",
    version=1,
    input_model=RebootAgentInput,
    output_model=RebootAgentOutput,
    handler=reboot_agent,
    side_effectful=True,
    ui=_ui("Reboot agent", "Restart a Tactical RMM agent's computer now."),
)

ACTIONS: tuple[ActionSpec[Any, Any], ...] = (
    FIND_AGENTS,
    GET_AGENT,
    LIST_SCRIPTS,
    RUN_SCRIPT,
    RUN_COMMAND,
    REBOOT_AGENT,
)


def register_actions(actions: ActionRegistry) -> None:
    """Register the Tactical RMM actions."""
    for spec in ACTIONS:
        actions.register(spec)
