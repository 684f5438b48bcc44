"""Triggering a Level automation through its webhook trigger, then (optionally) following its run.

**The trigger.** ``POST /v2/automations/webhooks/{token}`` with
``{"device_ids": [...]}`` (``{}`` for none), the API key in
``Authorization`` (a trigger with "Require an authorization header" needs a
read/write key there; others ignore it). An unknown token is NOT_FOUND: the
automation has no webhook trigger (deleting the trigger deletes its token).

**What Level answers.** Undocumented (vendors.md §2; Level's "Webhook
Trigger" page shows only the URL, the authorization header and the
parameter mapping). The sandbox's fake answers 200 with no body by default,
and can be switched to ``{"run_id": ..., "run_ids": [...]}`` or
``{"success": true}``. The answer is returned as it came
(``vendor_response``); a run id is taken from it only when it says so
explicitly: a string ``run_id`` or a list of strings ``run_ids`` in a JSON
object. Anything else identifies no run.

**Following the run** (``wait_for_run``). Before the trigger, with reads
only (a failure there is retried safely, nothing was sent):

1. the webhook list, paged until the token is found, gives the trigger's
   ``automation_id``;
2. the automation's runs, ``GET /v2/automation-runs?automation_id=...``
   (newest first, one page of 100), are noted. Level's docs show no such
   list; the fake serves it. A 404 means there is none.

Then the one POST, and the step answers ``Pending`` at once: nothing after
the POST may fail the step with a retryable error, since a retry would send
the trigger again. The check step (no worker is held in between):

- takes the run ids from Level's answer when it gave them; otherwise lists
  the automation's runs again. The runs not noted before are this
  trigger's: exactly one new run per device named (one in all when it named
  none) identifies them. Two new runs for one device (the automation was
  triggered there again meanwhile), or several for a trigger that named no
  device, cannot be told apart: the step ends ``followed: false`` saying so,
  never picking one. No new run yet is looked for again, for up to
  :data:`IDENTIFY_WINDOW` seconds;
- when the automation or its runs cannot be looked up (the token is not in
  the webhook list, there is no run list), the step ends right after the
  trigger with ``followed: false`` and why;
- reads each run (``include_steps=true``) until every one has a final
  status, then returns them with their steps. ``run_timeout`` bounds the
  whole wait (the step then ends TIMEOUT, naming the runs and their last
  status).

**Exactly once.** The trigger is the action's only mutating request. A 5xx
or a lost answer to it ends the step OUTCOME_UNKNOWN (the executor's rule
for a side-effectful action); a check that fails transiently looks again
later, and one that fails for good says the trigger was sent: a failed
check never sends the trigger again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from actionkit.context import ActionContext, Pending
from actionkit.errors import ActionError, NotFound, TransientError
from catalog.rmm import instant_or_none, text_or_none
from integrations.levelio.automations import webhook_token
from integrations.levelio.client import PAGE_MAX, RUNS_PATH, WEBHOOKS_PATH, LevelClient
from integrations.levelio.connection import client_for
from integrations.levelio.models import (
    TriggerAutomationInput,
    TriggerAutomationOutput,
    followed_run_from,
    ident,
)

# First look soon (quick automations), then less often: 3, 6, 12, 24, then every 30 s.
FIRST_CHECK = 3.0
MAX_CHECK_EVERY = 30.0
# How long after the trigger a run that has not shown up yet is still looked for.
IDENTIFY_WINDOW = 120.0
# Level's statuses are not documented: these end a run, these do not; any other
# word ends it only once the run has an ended_at.
FINAL_STATUSES = frozenset(
    {
        "success",
        "succeeded",
        "successful",
        "completed",
        "complete",
        "failed",
        "failure",
        "error",
        "errored",
        "canceled",
        "cancelled",
        "aborted",
        "skipped",
        "timed_out",
        "timeout",
    }
)
ACTIVE_STATUSES = frozenset(
    {"pending", "queued", "scheduled", "waiting", "started", "running", "in_progress"}
)


def check_every(checks: int) -> float:
    """Seconds until the next look: 3 s, doubling, at most every 30 s."""
    return float(min(MAX_CHECK_EVERY, FIRST_CHECK * 2 ** min(checks, 10)))


def run_ids_in(answer: Any) -> list[str]:
    """The run ids Level's trigger answer names explicitly (``run_ids``, else ``run_id``)."""
    if not isinstance(answer, dict):
        return []
    many = answer.get("run_ids")
    if isinstance(many, list) and many and all(isinstance(i, str) and i for i in many):
        return list(dict.fromkeys(many))
    one = answer.get("run_id")
    return [one] if isinstance(one, str) and one else []


def is_final(run: dict[str, Any]) -> bool:
    """Whether a run has ended (see :data:`FINAL_STATUSES`)."""
    status = (text_or_none(run.get("status")) or "").strip().lower()
    if status in FINAL_STATUSES:
        return True
    if status in ACTIVE_STATUSES:
        return False
    return instant_or_none(run.get("ended_at")) is not None


def _automation_of(client: LevelClient, token: str) -> str | None:
    """The automation whose webhook trigger has ``token`` (webhook pages until it is found)."""
    for page in client.pages(WEBHOOKS_PATH, params={}, page_size=lambda: PAGE_MAX):
        for hook in page:
            if webhook_token(hook.get("url")) == token:
                return ident(hook.get("automation_id"))
    return None


def _token_of(client: LevelClient, automation_id: str) -> str:
    """The token of ``automation_id``'s webhook trigger; NOT_FOUND when it has none."""
    for page in client.pages(WEBHOOKS_PATH, params={}, page_size=lambda: PAGE_MAX):
        for hook in page:
            token = webhook_token(hook.get("url"))
            if ident(hook.get("automation_id")) == automation_id and token is not None:
                return token
    raise NotFound(
        f"Level automation {automation_id} has no webhook trigger: add a Webhook trigger to "
        'it in Level (or check the id with "List automations")',
        details={"automation_id": automation_id},
    )


def _target(
    client: LevelClient, inp: TriggerAutomationInput, ctx: ActionContext
) -> tuple[str | None, str]:
    """The automation (when known) and the webhook token to trigger it with.

    The token is a capability (anyone holding it may start the automation),
    so it is registered as a secret: scrubbed from all the step records.
    Looking the automation up from a given token costs reads, so it is done
    only when the run is to be followed.
    """
    if inp.automation_id is not None:
        token = _token_of(client, inp.automation_id)
        ctx.redact(token)
        return inp.automation_id, token
    assert inp.webhook_token is not None  # the input allows exactly one of the two
    ctx.redact(inp.webhook_token)
    automation_id = _automation_of(client, inp.webhook_token) if inp.wait_for_run else None
    return automation_id, inp.webhook_token


def _run_ids(items: list[dict[str, Any]]) -> list[str]:
    return [i for i in (ident(item.get("id")) for item in items) if i is not None]


def _prepare_follow(client: LevelClient, automation_id: str | None) -> dict[str, Any]:
    """What identifying the run takes, read before the trigger: its automation's runs.

    ``{"automation_id", "before"}``, or ``{"why"}`` when the runs cannot be looked up.
    """
    if automation_id is None:
        return {
            "why": "the webhook token is not in Level's webhook list, so the automation it "
            "starts, and that automation's runs, cannot be looked up"
        }
    try:
        runs = client.collect(RUNS_PATH, limit=PAGE_MAX, params={"automation_id": automation_id})
    except NotFound:
        return {
            "why": f"Level lists no automation runs (GET {RUNS_PATH} answered 404), so the "
            f"run of automation {automation_id} this trigger started cannot be told apart"
        }
    return {"automation_id": automation_id, "before": _run_ids(runs)}


def _output(
    inp: TriggerAutomationInput,
    answer: Any,
    run_ids: list[str],
    *,
    automation_id: str | None,
    why: str | None = None,
    runs: list[dict[str, Any]] | None = None,
) -> TriggerAutomationOutput:
    followed = [followed_run_from(run) for run in runs or []]
    statuses = {run.status for run in followed}
    status = None if not followed else (statuses.pop() if len(statuses) == 1 else "mixed")
    return TriggerAutomationOutput(
        triggered=True,
        automation_id=automation_id,
        webhook_token=inp.webhook_token,
        vendor_response=answer,
        followed=runs is not None,
        why=why,
        run_id=run_ids[0] if run_ids else None,
        run_ids=run_ids,
        status=status,
        runs=followed,
    )


def trigger_automation(
    inp: TriggerAutomationInput, ctx: ActionContext
) -> TriggerAutomationOutput | Pending:
    """Trigger the automation; with ``wait_for_run``, follow its run (module docstring)."""
    with client_for(ctx) as client:
        automation_id, token = _target(client, inp, ctx)
        follow = _prepare_follow(client, automation_id) if inp.wait_for_run else {}
        # The one mutating request, and the last thing that may raise.
        answer = client.trigger_webhook(token, list(inp.device_ids))
    run_ids = run_ids_in(answer)
    if not inp.wait_for_run:
        return _output(
            inp,
            answer,
            run_ids,
            automation_id=automation_id,
            why="not asked to (wait_for_run is false): the step ended "
            "once Level accepted the trigger",
        )
    if not run_ids and "before" not in follow:
        return _output(
            inp,
            answer,
            [],
            automation_id=automation_id,
            why=f"{follow['why']}; Level's answer to the trigger names no run",
        )
    state = {
        "answer": answer,
        "run_ids": run_ids,
        "automation_id": automation_id,
        "before": follow.get("before", []),
        "triggered_at": ctx.now().isoformat(),
        "checks": 0,
    }
    return Pending(
        check_after=FIRST_CHECK,
        state=state,
        timeout=float(inp.run_timeout),
        note=_note(inp, state, []),
    )


def _note(inp: TriggerAutomationInput, state: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    sent = f"Level automation {_named(state)} triggered"
    if not state.get("run_ids"):
        return f"{sent}; looking for the run it started (automation {state.get('automation_id')})"
    shown = ", ".join(
        f"{ident(run.get('id'))}: {text_or_none(run.get('status')) or 'status unknown'}"
        for run in runs
    )
    return f"{sent}; following run {shown or ', '.join(state['run_ids'])}"


def _identify(
    client: LevelClient, inp: TriggerAutomationInput, state: dict[str, Any]
) -> list[str] | str | None:
    """This trigger's run ids; a reason when they cannot be told apart; None when not there yet."""
    automation_id = str(state["automation_id"])
    before = set(state.get("before") or [])
    listed = client.collect(RUNS_PATH, limit=PAGE_MAX, params={"automation_id": automation_id})
    new = [
        run
        for run in listed
        if ident(run.get("id")) not in (None, *before)
        and ident(run.get("automation_id")) in (None, automation_id)
    ]
    devices = list(dict.fromkeys(inp.device_ids))
    if not devices:
        if len(new) > 1:
            return (
                f"the trigger named no devices and {len(new)} new runs of automation "
                f"{automation_id} appeared ({', '.join(_run_ids(new))}); which of them this "
                "trigger started cannot be told"
            )
        return _run_ids(new) or None
    found: list[str] = []
    for device in devices:
        mine = _run_ids([run for run in new if ident(run.get("device_id")) == device])
        if len(mine) > 1:
            return (
                f"{len(mine)} new runs of automation {automation_id} appeared on device "
                f"{device} ({', '.join(mine)}): it was triggered there again meanwhile, so "
                "which run is this trigger's cannot be told"
            )
        if not mine:
            return None
        found += mine
    return found


def _named(state: dict[str, Any]) -> str:
    automation_id = state.get("automation_id")
    return str(automation_id) if automation_id else "(by its webhook token)"


def _elapsed(ctx: ActionContext, state: dict[str, Any]) -> float:
    started = datetime.fromisoformat(str(state["triggered_at"]))
    return (ctx.now() - started).total_seconds()


def check_trigger(
    inp: TriggerAutomationInput, state: dict[str, Any], ctx: ActionContext
) -> TriggerAutomationOutput | Pending:
    """Identify the triggered run(s) if need be, then read them until every one has ended.

    A transient failure looks again later (the executor's rule for a check;
    reading the runs keeps what this check identified); one that is not is
    re-raised saying that the trigger was sent.
    """
    if inp.webhook_token is not None:
        ctx.redact(inp.webhook_token)
    checks = int(state.get("checks", 0)) + 1
    state = {**state, "checks": checks}
    automation_id = state.get("automation_id")
    answer = state.get("answer")
    run_ids = [str(i) for i in state.get("run_ids") or []]
    try:
        with client_for(ctx) as client:
            if not run_ids:
                found = _identify(client, inp, state)
                if isinstance(found, str):
                    return _output(inp, answer, [], automation_id=automation_id, why=found)
                if found is None:
                    if _elapsed(ctx, state) >= IDENTIFY_WINDOW:
                        return _output(
                            inp,
                            answer,
                            [],
                            automation_id=automation_id,
                            why=f"no new run of automation {state['automation_id']}"
                            f"{_on_devices(inp)} appeared within {IDENTIFY_WINDOW:.0f} s of "
                            "the trigger",
                        )
                    return Pending(
                        check_after=check_every(checks), state=state, note=_note(inp, state, [])
                    )
                run_ids = found
                state["run_ids"] = run_ids
            try:
                runs = [client.get_run(run_id, include_steps=True) for run_id in run_ids]
            except TransientError as exc:
                # Another look later, keeping what this check identified.
                return Pending(
                    check_after=max(check_every(checks), exc.retry_after or 0.0),
                    state=state,
                    note=f"{_note(inp, state, [])}; reading it again later ({exc.message})",
                )
    except ActionError as exc:
        raise _after_trigger(exc, state, run_ids) from None
    if all(is_final(run) for run in runs):
        return _output(inp, answer, run_ids, automation_id=automation_id, runs=runs)
    return Pending(check_after=check_every(checks), state=state, note=_note(inp, state, runs))


def _on_devices(inp: TriggerAutomationInput) -> str:
    return f" on device {', '.join(inp.device_ids)}" if inp.device_ids else ""


def _after_trigger(error: ActionError, state: dict[str, Any], run_ids: list[str]) -> ActionError:
    """``error`` (same class and code), saying that the trigger itself was sent and accepted."""
    return type(error)(
        f"Level accepted the trigger of automation {_named(state)} (it is not sent again), "
        f"but following its run failed: {error.message}",
        code=error.code,
        vendor=error.vendor,
        details={**(error.details or {}), "triggered": True, "run_ids": run_ids},
    )
