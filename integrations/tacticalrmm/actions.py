"""The Tactical RMM actions of this slice (the reads): their specs, in catalog order.

Handlers are plain functions ``(input, ctx) -> output``, one module per noun
(``agents.py``, ``scripts.py``); the connection and client they share are in
``connection.py``.
"""

from __future__ import annotations

from typing import Any

from actionkit.spec import ActionSpec, ActionUI
from catalog.actions import ActionRegistry
from integrations.tacticalrmm.agents import find_agents, get_agent
from integrations.tacticalrmm.connection import LABEL
from integrations.tacticalrmm.models import (
    FindAgentsInput,
    FindAgentsOutput,
    GetAgentInput,
    GetAgentOutput,
    ListScriptsInput,
    ListScriptsOutput,
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

ACTIONS: tuple[ActionSpec[Any, Any], ...] = (FIND_AGENTS, GET_AGENT, LIST_SCRIPTS)


def register_actions(actions: ActionRegistry) -> None:
    """Register the Tactical RMM read actions."""
    for spec in ACTIONS:
        actions.register(spec)
