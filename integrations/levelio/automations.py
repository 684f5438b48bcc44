"""Level automations: list them with their webhook triggers, and read one run.

Triggering one (and following its run) is in ``triggers.py``.
"""

from __future__ import annotations

from typing import Any

from actionkit.context import ActionContext
from actionkit.errors import NotFound
from catalog.rmm import text_or_none
from integrations.levelio.client import AUTOMATIONS_PATH, WEBHOOKS_PATH
from integrations.levelio.connection import client_for
from integrations.levelio.models import (
    Automation,
    ListAutomationsInput,
    ListAutomationsOutput,
    RunStatusInput,
    RunStatusOutput,
    flag,
    ident,
    run_from,
)


def webhook_token(url: Any) -> str | None:
    """A webhook trigger's token: the last path segment of its URL (``.../webhooks/<token>``)."""
    text = text_or_none(url)
    if text is None:
        return None
    path = text.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return text_or_none(path.rsplit("/", 1)[-1]) if "/" in path else None


def _automation(item: dict[str, Any], webhook: dict[str, Any] | None) -> Automation:
    hook = webhook or {}
    return Automation(
        automation_id=ident(item.get("id")),
        name=text_or_none(item.get("name")),
        description=text_or_none(item.get("description")),
        group_id=ident(item.get("group_id")),
        group_name=text_or_none(item.get("group_name")),
        has_webhook_trigger=webhook_token(hook.get("url")) is not None,
        webhook_token=webhook_token(hook.get("url")),
        webhook_requires_authorization=flag(hook.get("requires_authorization_header")),
    )


def list_automations(inp: ListAutomationsInput, ctx: ActionContext) -> ListAutomationsOutput:
    """Automations (paged, filtered by name), each joined with its webhook trigger.

    The webhook list is read to its end, every page, so an automation past
    the first page of triggers still gets its token.
    """
    needle = None if inp.query is None else inp.query.lower()

    def named(item: dict[str, Any]) -> bool:
        name = text_or_none(item.get("name"))
        return needle is None or (name is not None and needle in name.lower())

    with client_for(ctx) as client:
        items = client.collect(
            AUTOMATIONS_PATH, limit=inp.limit, keep=None if needle is None else named
        )
        webhooks = client.collect(WEBHOOKS_PATH, limit=None) if items else []
    by_automation: dict[str, dict[str, Any]] = {}
    for hook in webhooks:
        automation_id = ident(hook.get("automation_id"))
        if automation_id is not None:
            by_automation.setdefault(automation_id, hook)
    automations = [
        _automation(item, by_automation.get(ident(item.get("id")) or "")) for item in items
    ]
    return ListAutomationsOutput(automations=automations, count=len(automations))


def run_status(inp: RunStatusInput, ctx: ActionContext) -> RunStatusOutput:
    """``GET /v2/automation-runs/{id}`` (``include_steps=true`` only when asked)."""
    with client_for(ctx) as client:
        try:
            item = client.get_run(inp.run_id, include_steps=inp.include_steps)
        except NotFound as exc:
            raise NotFound(
                f"Level has no automation run {inp.run_id!r} ({exc.message})",
                vendor=exc.vendor,
                details={"run_id": inp.run_id},
            ) from None
    return RunStatusOutput(
        run=run_from(item), steps=item.get("steps") if inp.include_steps else None
    )
