"""Disk-full self-heal: a deduplicated ticket, the cleanup script, then fixed or escalated.

From a disk-full alert on a NinjaOne device or a Tactical RMM agent:

1. ``disk_full.open_ticket`` (``tickets.create``): one open ticket per device
   while the disk stays full (dedupe key ``disk-full:<rmm>:<device>``: an
   alert storm makes one ticket), linked to the NinjaOne alert;
2. ``disk_full.run_cleanup`` (``ninjaone.devices.run_script`` with
   ``wait_for_result``, or ``tacticalrmm.agents.run_script`` waiting for its
   output): run the cleanup script and wait for its result, without holding
   a worker;
3. ``disk_full.note_output`` (``tickets.add_note``): the script's output and
   the verdict, on the ticket;
4. fixed (:func:`cleanup_fixed`): ``disk_full.reset_alert``
   (``ninjaone.alerts.reset``, when a NinjaOne alert was given) and
   ``disk_full.close_ticket`` (``tickets.close``);
   not fixed: ``disk_full.raise_priority`` (``tickets.update``, high) and
   ``disk_full.escalate`` (``teams.post_to_channel`` to the on-call channel).

The alert is linked to the ticket without ``sync_close``: the recipe resets
it itself, as a step of its own, only when the disk was cleaned up (closing
the ticket later does not reset it a second time). While the disk stays
full the alert stays active, as it should.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from actionkit.inputs import NotBlank, StrictInput, StripBlank
from recipes.common import SANDBOX_CHANNEL_ID, ChannelId, Text, excerpt
from recipes.runner import Recipe, RecipeRun

STILL_FULL_MARKER = "STILL FULL"
"""What a cleanup script prints when it could not free enough space (any case)."""
RESULT_MARGIN = 60.0
"""Seconds the recipe waits for the script's step beyond the script's own timeout."""
TACTICAL_TIMEOUT_MAX = 3600
UUID_TEXT = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
)


class DiskFullInput(StrictInput):
    """The device whose disk is full, the alert about it, and the cleanup script to run."""

    rmm: Literal["ninjaone", "tacticalrmm"] = Field(
        default="ninjaone", description="Which RMM the device is in: ninjaone or tacticalrmm."
    )
    device_id: Annotated[
        str, StringConstraints(min_length=1, max_length=255), NotBlank, StripBlank
    ] = Field(
        description="The device: NinjaOne's device id (e.g. \"2\"), or Tactical RMM's agent id."
    )
    script_id: int = Field(
        ge=1, le=2_147_483_647, description="The cleanup script's id in the RMM's library."
    )
    alert_id: Text | None = Field(
        default=None,
        description="The alert that started it: NinjaOne's alert uid (linked to the ticket, "
        "reset once the disk is cleaned up), or Tactical RMM's alert id (noted on the ticket).",
    )
    hostname: Text | None = Field(
        default=None, description="The device's name, for the ticket and the Teams post."
    )
    script_timeout: int = Field(
        default=300,
        ge=10,
        le=86_400,
        description="Seconds to wait for the script's result (Tactical RMM: at most 3600).",
    )
    still_full_marker: Text = Field(
        default=STILL_FULL_MARKER,
        description="Text in the script's output (any case) that means the disk is still full.",
    )
    channel_id: ChannelId = SANDBOX_CHANNEL_ID
    board: Text | None = Field(default=None, description="The ticket's board, if any.")

    @model_validator(mode="after")
    def _ninjaone_ids(self) -> DiskFullInput:
        if self.rmm == "ninjaone" and not (self.device_id.isascii() and self.device_id.isdigit()):
            raise ValueError('device_id must be NinjaOne\'s numeric device id, e.g. "2"')
        ninja_alert = self.alert_id if self.rmm == "ninjaone" else None
        if ninja_alert is not None and UUID_TEXT.fullmatch(ninja_alert) is None:
            raise ValueError("alert_id must be NinjaOne's alert uid (8-4-4-4-12 hex digits)")
        return self


def cleanup_fixed(rmm: str, result: dict[str, Any], marker: str) -> tuple[bool, str]:
    """Whether the cleanup fixed the disk, and why (one line): the documented rule.

    Not fixed when the RMM reports a failure (NinjaOne: ``result`` other than
    SUCCESS, or a non-zero ``exit_code``; Tactical RMM: a non-zero
    ``retcode`` in the agent's history, when it reports one) or when the
    output contains ``marker`` (any case). Fixed otherwise.
    """
    output = str(result.get("output") or "")
    if rmm == "ninjaone":
        if not result.get("completed"):
            return False, "NinjaOne reported no result"
        if result.get("result") not in (None, "SUCCESS"):
            return False, f"NinjaOne reported {result.get('result')}"
        code = result.get("exit_code")
    else:
        response = result.get("vendor_response")
        code = response.get("retcode") if isinstance(response, dict) else None
    if code not in (None, 0):
        return False, f"exit code {code}"
    if marker.casefold() in output.casefold():
        return False, f"the output says {marker}"
    return True, "exit code 0" if code == 0 else "the script succeeded"


def _cleanup_step(inp: DiskFullInput) -> tuple[str, dict[str, Any], float]:
    """The run-script action, its input and how long to wait for it."""
    if inp.rmm == "ninjaone":
        return (
            "ninjaone.devices.run_script",
            {
                "device_id": int(inp.device_id),
                "script_id": inp.script_id,
                "wait_for_result": True,
                "timeout_seconds": inp.script_timeout,
            },
            inp.script_timeout + RESULT_MARGIN,
        )
    timeout = min(inp.script_timeout, TACTICAL_TIMEOUT_MAX)
    return (
        "tacticalrmm.agents.run_script",
        {
            "agent_id": inp.device_id,
            "script_id": inp.script_id,
            "timeout": timeout,
            "wait_for_output": True,
        },
        timeout + RESULT_MARGIN,
    )


def run(run: RecipeRun, inp: DiskFullInput) -> dict[str, Any]:
    """The steps (module doc); the outcome: fixed or escalated, and the ticket."""
    host = inp.hostname or f"device {inp.device_id}"
    rmm_label = "NinjaOne" if inp.rmm == "ninjaone" else "Tactical RMM"
    ninja_alert = inp.alert_id if inp.rmm == "ninjaone" else None
    description = f"{rmm_label} reports the disk of {host} (device {inp.device_id}) as full"
    description += f" (alert {inp.alert_id})." if inp.alert_id else "."
    ticket_input: dict[str, Any] = {
        "title": f"Disk full on {host}",
        "description": description + " The disk-full recipe runs the cleanup script.",
        "priority": "medium",
        "dedupe_key": f"disk-full:{inp.rmm}:{inp.device_id}",
    }
    if inp.board is not None:
        ticket_input["board"] = inp.board
    if ninja_alert is not None:
        ticket_input["alert"] = {"provider": "ninjaone", "alert_id": ninja_alert}
    opened = run.step("disk_full.open_ticket", "tickets.create", ticket_input)
    ticket = opened["ticket"]
    ticket_id, number = ticket["ticket_id"], ticket["ticket_number"]

    action, script_input, wait = _cleanup_step(inp)
    result = run.step("disk_full.run_cleanup", action, script_input, timeout=wait)
    fixed, why = cleanup_fixed(inp.rmm, result, inp.still_full_marker)
    verdict = "fixed" if fixed else "NOT fixed"
    run.step(
        "disk_full.note_output",
        "tickets.add_note",
        {
            "ticket_id": ticket_id,
            "text": f"Cleanup script {inp.script_id} on {host}: {verdict} ({why}).\n\n"
            f"Output:\n{result.get('output') or '(no output)'}",
            "internal": True,
        },
    )
    outcome: dict[str, Any] = {
        "fixed": fixed,
        "why": why,
        "ticket_id": ticket_id,
        "ticket_number": number,
        "ticket_created": opened["created"],
        "alert_reset": False,
        "ticket_closed": False,
        "escalated": False,
    }
    if fixed:
        if ninja_alert is not None:
            run.step(
                "disk_full.reset_alert", "ninjaone.alerts.reset", {"external_alert_id": ninja_alert}
            )
            outcome["alert_reset"] = True
        run.step(
            "disk_full.close_ticket",
            "tickets.close",
            {
                "ticket_id": ticket_id,
                "resolution": f"Cleaned up by the disk-full recipe (script {inp.script_id}, "
                f"{why}): {excerpt(result.get('output'))}",
            },
        )
        outcome["ticket_closed"] = True
        return outcome
    run.step(
        "disk_full.raise_priority",
        "tickets.update",
        {"ticket_id": ticket_id, "priority": "high"},
    )
    run.step(
        "disk_full.escalate",
        "teams.post_to_channel",
        {
            "channel_id": inp.channel_id,
            "message": f"{number} Disk full on {host}: the cleanup script did not free enough "
            f"space ({why}); needs a technician. Output: {excerpt(result.get('output'))}",
        },
    )
    outcome["escalated"] = True
    return outcome


RECIPE = Recipe(
    name="disk-full",
    summary="Disk-full self-heal (NinjaOne or Tactical RMM): deduplicated ticket, cleanup "
    "script and its output on the ticket; fixed: reset the alert, close the ticket; else "
    "escalate to the on-call Teams channel.",
    input_model=DiskFullInput,
    run=run,
)
