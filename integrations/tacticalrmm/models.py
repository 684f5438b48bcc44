"""Tactical RMM models: action inputs and outputs (what workflows see) and the vendor's wire shapes.

Inputs forbid unknown fields and accept exactly what their published JSON
Schema allows (``actionkit.inputs``). Wire models ignore fields they do not
name and take any value in the ones they do: the server renders Django
model fields freely, and the handlers turn a value of the wrong type into
null (vendors.md §1: "values of the wrong type become null").
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from actionkit.inputs import Matches, NotBlank, StrictInput, StripBlank, Uuid, anchored

Text = Annotated[str, StringConstraints(min_length=1, max_length=255), NotBlank, StripBlank]
AgentId = Annotated[
    Text,
    Field(
        description=(
            "The Tactical RMM agent id (the long string id shown in the agent's URL, "
            "not the numeric database id)."
        )
    ),
]


# The vendor's own bounds for a run (vendors.md §1: timeout 1 to 3600 seconds).
MAX_RUN_TIMEOUT = 3600
MAX_ARGS = 100
MAX_ARG_LENGTH = 4096
MAX_COMMAND_LENGTH = 65_536
# NAME=value, as the agent sets it in the script's environment; a name that is not
# an identifier (or a line break in the value) would not survive that.
ENV_VAR_PATTERN = anchored("[A-Za-z_][A-Za-z0-9_]*=[^\\n\\r]*")
EnvVar = Annotated[
    str,
    StringConstraints(max_length=MAX_ARG_LENGTH),
    Matches(
        ENV_VAR_PATTERN,
        "Input should be NAME=value: a name of letters, digits and underscores not "
        "starting with a digit, then =, then a value without line breaks",
    ),
]
ScriptArg = Annotated[str, StringConstraints(max_length=MAX_ARG_LENGTH)]


def text(value: Any) -> str | None:
    """``value`` if it is a string with something in it, else None."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def integer(value: Any) -> int | None:
    """``value`` if it is an integer (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def instant(value: Any) -> datetime | None:
    """A DRF datetime (ISO 8601) as an aware datetime; anything else is None."""
    raw = text(value)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def online(status: Any) -> bool | None:
    """``online`` (any case) is True, any other status word False (``overdue`` too), else None."""
    word = text(status)
    return None if word is None else word.lower() == "online"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- inputs -------------------------------------------------------------------------


class FindAgentsInput(StrictInput):
    """Which agents to find: all filters given must match; none lists every agent.

    The local mirror (assets synced from Tactical RMM) is searched by default;
    ``live: true`` asks the Tactical RMM server.
    """

    agent_id: AgentId | None = None
    asset_id: Uuid | None = Field(
        default=None, description="A local asset; matches the agent it mirrors."
    )
    query: Text | None = Field(
        default=None,
        description=(
            "Locally: text matched against the asset's name, tag and serial number. "
            "Live: the agent's exact hostname (Tactical RMM filters by exact hostname)."
        ),
    )
    live: bool = Field(
        default=False,
        description=(
            "Ask the Tactical RMM server instead of the local mirror; the mirror holds only "
            "what was synced, so an empty answer there may not be empty at Tactical RMM."
        ),
    )
    limit: int = Field(
        default=50, ge=1, le=200, description="Return at most this many (1 to 200; 50 by default)."
    )


class GetAgentInput(StrictInput):
    """The one Tactical RMM agent to read."""

    agent_id: AgentId


class ListScriptsInput(StrictInput):
    """Which scripts of the Tactical RMM script library to list."""

    query: Text | None = Field(
        default=None, description="Keep scripts whose name contains this text (any case)."
    )
    limit: int = Field(
        default=100,
        ge=1,
        le=500,
        description="Return at most this many (1 to 500; 100 by default).",
    )


# How long a step may wait for an offline agent: up to a week, an hour by default.
MAX_OFFLINE_TIMEOUT = 7 * 24 * 3600
DEFAULT_OFFLINE_TIMEOUT = 3600


class OnAgentInput(StrictInput):
    """An agent to act on, and what to do when it is offline (shared by every run and reboot)."""

    agent_id: AgentId
    if_offline: Literal["fail", "wait"] = Field(
        default="fail",
        description=(
            "When the agent is offline: fail at once with AGENT_OFFLINE (nothing is sent), "
            "or wait for it to come back, without holding a worker, for up to "
            "offline_timeout seconds, then run."
        ),
    )
    offline_timeout: int = Field(
        default=DEFAULT_OFFLINE_TIMEOUT,
        ge=1,
        le=MAX_OFFLINE_TIMEOUT,
        description=(
            "With if_offline wait: seconds to wait for the agent to come back before the "
            "step ends TIMEOUT, having sent nothing (1 to 604800)."
        ),
    )


class RunScriptInput(OnAgentInput):
    """Which library script to run on which agent, how, and whether to wait for its output."""

    script_id: int = Field(
        ge=1,
        le=2_147_483_647,
        description="The script's id in the Tactical RMM library (its id in scripts.list).",
    )
    args: list[ScriptArg] = Field(
        default_factory=list,
        max_length=MAX_ARGS,
        description="Arguments passed to the script, one string each, in order.",
    )
    env_vars: list[EnvVar] = Field(
        default_factory=list,
        max_length=MAX_ARGS,
        description="Environment variables for the script, each as NAME=value.",
    )
    timeout: int = Field(
        default=90,
        ge=1,
        le=MAX_RUN_TIMEOUT,
        description="Seconds the agent lets the script run before stopping it (1 to 3600).",
    )
    run_as_user: bool = Field(
        default=False,
        description="Run as the logged-on user instead of SYSTEM (Windows agents).",
    )
    wait_for_output: bool = Field(
        default=True,
        description=(
            "Wait for the script to finish and return its output (a timeout over 120 "
            "seconds is collected from the agent's history without holding a worker); "
            "false starts it and returns at once, with no output."
        ),
    )


class RunCommandInput(OnAgentInput):
    """Which shell command to run on which agent."""

    # The published schema carries the cross-field rule the validator below enforces.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"shell": {"const": "custom"}}, "required": ["shell"]},
            "then": {
                "required": ["custom_shell"],
                "properties": {"custom_shell": {"not": {"type": "null"}}},
            },
        }
    )

    command: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_COMMAND_LENGTH), NotBlank
    ] = Field(description="The command line to run, as typed at the shell's prompt.")
    shell: Text = Field(
        default="powershell",
        description=(
            "The shell that runs it: powershell, cmd, or on Linux and macOS a shell path "
            "such as /bin/bash; custom runs the program named in custom_shell."
        ),
    )
    custom_shell: Text | None = Field(
        default=None,
        validate_default=True,
        description="The shell program to run the command with; required when shell is custom.",
    )
    timeout: int = Field(
        default=30,
        ge=1,
        le=MAX_RUN_TIMEOUT,
        description="Seconds to wait for the command to finish (1 to 3600).",
    )
    run_as_user: bool = Field(
        default=False,
        description="Run as the logged-on user instead of SYSTEM (Windows agents).",
    )

    @field_validator("custom_shell")
    @classmethod
    def _custom_shell_for_custom(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("shell") == "custom":
            raise PydanticCustomError("missing", "custom_shell is required when shell is custom")
        return value


class RebootAgentInput(OnAgentInput):
    """The agent whose computer to restart now."""


# -- outputs ------------------------------------------------------------------------


class Agent(BaseModel):
    """One Tactical RMM agent, from the local mirror or from the server."""

    agent_id: str = Field(description="The Tactical RMM agent id (its long string id).")
    asset_id: uuid.UUID | None = Field(
        description="The local asset mirroring this agent, if one does."
    )
    hostname: str | None = Field(description="The computer's host name as the agent reports it.")
    organization_id: str | None = Field(
        description=(
            "The Tactical RMM client (customer) id, when known; the server's agent "
            "routes do not send it, so live rows usually have null here."
        )
    )
    client_name: str | None = Field(
        description="The Tactical RMM client (customer) the agent belongs to, when known."
    )
    site_name: str | None = Field(description="The client's site the agent belongs to, when known.")
    agent_online: bool | None = Field(
        description=(
            "Whether the agent is online (offline and overdue are false); null when "
            "Tactical RMM did not say, as in live listings."
        )
    )
    last_seen_at: datetime | None = Field(description="When the agent last checked in.")
    os_name: str | None = Field(description="Operating system, e.g. Windows 11 Pro.")
    source: Literal["local", "tacticalrmm"] = Field(
        description="Where this row comes from: local (the mirror) or tacticalrmm (the server)."
    )


class FindAgentsOutput(BaseModel):
    """The agents found."""

    agents: list[Agent] = Field(description="The agents found, at most limit of them.")
    count: int = Field(description="How many agents were found (the length of agents).")


class GetAgentOutput(BaseModel):
    """The agent read from Tactical RMM."""

    agent: Agent = Field(description="The agent as the Tactical RMM server reports it now.")


class Script(BaseModel):
    """One script of the Tactical RMM script library."""

    id: int | None = Field(description="The script's id in Tactical RMM (to run it by).")
    name: str | None = Field(description="The script's name in the library.")
    shell: str | None = Field(
        description="What runs it: powershell, cmd, python, shell, nushell or deno."
    )
    category: str | None = Field(description="The library category it is filed under.")
    description: str | None = Field(description="What the script does, as its author wrote.")


class ListScriptsOutput(BaseModel):
    """The scripts found."""

    scripts: list[Script] = Field(description="Matching scripts, in the server's order.")
    count: int = Field(description="How many scripts were found (the length of scripts).")


class RunOutput(BaseModel):
    """What Tactical RMM said to a script or command run."""

    run_requested: bool = Field(description="Always true: Tactical RMM accepted the run.")
    agent_id: str = Field(description="The agent the run was sent to.")
    output: str | None = Field(
        description=(
            "What the script or command printed, when the step waited for it; null when "
            "it was only started."
        )
    )
    vendor_response: Any | None = Field(
        description=(
            "Tactical RMM's answer as it came, e.g. the started-run notice, or the "
            "script's results (stdout, stderr, retcode) from the agent's history."
        )
    )


class RebootAgentOutput(BaseModel):
    """Tactical RMM accepted the reboot."""

    reboot_requested: bool = Field(description="Always true: the agent accepted the reboot.")
    agent_id: str = Field(description="The agent whose computer is restarting.")


# -- wire -----------------------------------------------------------------------------


class WireAgent(_Wire):
    """An agent as ``/agents/{agent_id}/`` or a ``/beta/v1/agent/`` row renders it."""

    agent_id: Any = None
    hostname: Any = None
    name: Any = None
    computer_name: Any = None
    status: Any = None
    agent_status: Any = None
    client_id: Any = None
    client: Any = None
    client_name: Any = None
    site_name: Any = None
    last_seen: Any = None
    operating_system: Any = None
    os_type: Any = None


class WireAgentPage(_Wire):
    """One DRF page of the beta agent list."""

    results: list[WireAgent] = []
    next: Any = None


class WireHistoryEntry(_Wire):
    """One entry of ``GET /agents/{agent_id}/history/`` (a script run, a command, ...)."""

    id: Any = None
    type: Any = None
    script: Any = None
    time: Any = None
    script_results: Any = None


class WireScript(_Wire):
    """A script as ``GET /scripts/`` renders it."""

    id: Any = None
    name: Any = None
    shell: Any = None
    category: Any = None
    description: Any = None
