"""NinjaOne scripts: what a device can run, and running one (optionally waiting for its result).

NinjaOne answers a run with no body, so the outcome is found later among the
device's activities; :func:`run_script` returns Pending and
:func:`check_run_script` looks for the result.
"""

from __future__ import annotations

from typing import Any

from actionkit.context import ActionContext, Pending
from actionkit.errors import TransientError
from integrations.ninjaone.connection import client_for
from integrations.ninjaone.models import (
    DeviceInput,
    RunScriptInput,
    RunScriptOutput,
    ScriptingOptionsOutput,
    ScriptOption,
    WireActivity,
    WireScript,
    epoch_seconds,
)

ACTIVITY_PAGE_SIZE = 1000
MAX_CHECK_INTERVAL = 30.0


def _script_option(item: WireScript, default_type: str) -> ScriptOption:
    return ScriptOption(
        id=item.id,
        uid=item.uid,
        name=item.name,
        type=(item.type or default_type).upper(),
        language=item.language,
        description=item.description,
        category_id=item.category_id,
    )


def scripting_options(inp: DeviceInput, ctx: ActionContext) -> ScriptingOptionsOutput:
    """The scripts and built-in actions NinjaOne offers for the device."""
    with client_for(ctx) as client:
        options = client.scripting_options(inp.device_id)
    scripts = [_script_option(s, "SCRIPT") for s in options.scripts]
    scripts += [_script_option(a, "ACTION") for a in (*options.actions, *options.built_in_actions)]
    return ScriptingOptionsOutput(scripts=scripts, count=len(scripts))


def _run_body(inp: RunScriptInput) -> dict[str, Any]:
    body: dict[str, Any] = {"type": inp.type}
    if inp.type == "SCRIPT":
        body["id"] = inp.script_id
    else:
        body["uid"] = str(inp.action_uid)
    if inp.parameters is not None:
        body["parameters"] = inp.parameters
    if inp.run_as is not None:
        body["runAs"] = inp.run_as
    return body


def _check_interval(checks: int) -> float:
    """3 s, 6 s, 12 s, 24 s, then every 30 s: quick scripts finish fast, long ones poll less."""
    return min(MAX_CHECK_INTERVAL, 3.0 * (1 << min(checks, 10)))


def run_script(inp: RunScriptInput, ctx: ActionContext) -> RunScriptOutput | Pending:
    """Ask NinjaOne to run the script; with ``wait_for_result``, wait for its outcome.

    NinjaOne answers the run with no body, so the outcome is found later among
    the device's activities: newer than the newest one seen before the run, of
    this script or action. The handler notes that activity id and returns
    Pending; :func:`check_run_script` looks for the result.
    """
    with client_for(ctx) as client:
        newest = 0
        if inp.wait_for_result:
            seen = client.device_activities(inp.device_id, page_size=10).activities
            newest = max((a.id for a in seen), default=0)
        vendor_response = client.run_script(inp.device_id, _run_body(inp))
    if not inp.wait_for_result:
        return RunScriptOutput(
            run_requested=True,
            external_device_id=str(inp.device_id),
            vendor_response=vendor_response,
        )
    # Nothing after the run request may fail the step with a retryable error:
    # a retry would start the script again. The check step absorbs those.
    return Pending(
        check_after=_check_interval(0),
        state={"after_activity_id": newest, "series_uid": None, "checks": 0},
        timeout=float(inp.timeout_seconds),
        note=f"waiting for NinjaOne to report the result on device {inp.device_id}",
    )


def _is_this_run(activity: WireActivity, inp: RunScriptInput) -> bool:
    data = activity.data
    if data.get("scriptType") not in (None, inp.type):
        return False
    if inp.type == "SCRIPT":
        return data.get("scriptId") == inp.script_id
    uid = str(inp.action_uid).lower()
    return str(data.get("actionUid") or activity.source_config_uid or "").lower() == uid


def check_run_script(
    inp: RunScriptInput, state: dict[str, Any], ctx: ActionContext
) -> RunScriptOutput | Pending:
    """Look for the run's COMPLETED activity; Pending again until it shows up."""
    checks = int(state.get("checks", 0)) + 1
    series = state.get("series_uid")
    try:
        with client_for(ctx) as client:
            if series:
                found = client.device_activities(inp.device_id, series_uid=series)
            else:
                found = client.device_activities(
                    inp.device_id,
                    newer_than=int(state.get("after_activity_id", 0)) or None,
                    activity_type="ACTION",
                    page_size=ACTIVITY_PAGE_SIZE,
                )
    except TransientError as exc:
        # Re-raising would have the step retried from the start, running the
        # script again; a failed look is just another look later.
        wait = max(_check_interval(checks), exc.retry_after or 0.0)
        return Pending(
            check_after=min(wait, MAX_CHECK_INTERVAL * 2),
            state={**state, "checks": checks},
            note=f"checking again: {exc.message}",
        )
    activities = sorted(found.activities, key=lambda a: a.id)
    if not series:
        start = next((a for a in activities if a.series_uid and _is_this_run(a, inp)), None)
        series = start.series_uid if start is not None else None
    done = next(
        (
            a
            for a in activities
            if series
            and a.series_uid == series
            and (a.activity_result is not None or a.status_code == "COMPLETED")
        ),
        None,
    )
    if done is None:
        return Pending(
            check_after=_check_interval(checks),
            state={**state, "series_uid": series, "checks": checks},
            note="the script has not reported a result yet"
            if series
            else "NinjaOne has not logged the run yet",
        )
    exit_code = done.data.get("exitCode")
    output = done.data.get("output")
    return RunScriptOutput(
        run_requested=True,
        external_device_id=str(inp.device_id),
        completed=True,
        result=done.activity_result,
        output=output if isinstance(output, str) else done.message,
        exit_code=exit_code
        if isinstance(exit_code, int) and not isinstance(exit_code, bool)
        else None,
        series_uid=series,
        completed_at=epoch_seconds(done.activity_time),
    )
