"""Automations and their webhook triggers.

- ``GET /v2/automations`` -> cursor list of ``{id, name, description,
  group_id, group_name}`` (vendors.md §2 "Automation"; ``group_id`` None
  and ``group_name`` None for an automation not scoped to a group).
- ``GET /v2/automations/webhooks`` -> the webhook triggers, each
  ``{id, url, automation_id, automation_name, requires_authorization_header,
  parameters: ["device_ids"]}`` with ``url`` =
  ``<base>/v2/automations/webhooks/<token>`` (the shape of Alga's fixture,
  vendors.md §2; ``<base>`` is the URL the request came to). Served, like
  every list, as a cursor page ``{data, has_more}`` (default 20, so a long
  list takes more than one call). ``id`` is the trigger's own id and the
  cursor for ``starting_after``/``ending_before`` *(choice: the fixture has
  no id, and a cursor needs one)*. The switch ``webhook_list = "array"``
  serves the whole list as a bare array instead, ignoring paging params
  (vendors.md §5 asks for both shapes).
- A webhook trigger's token exists once the trigger is saved and dies with
  it (Level's "Webhook Trigger",
  https://docs.level.io/en/articles/13909069-webhook-trigger):
  :meth:`Automations.add_webhook_trigger` / :meth:`Automations.delete_webhook_trigger`.
  "Require an authorization header" is ``requires_authorization_header``.
  Tokens are 32 random hex characters *(choice)*.

Running a trigger (``POST /v2/automations/webhooks/{token}``) and the runs it
creates are in :mod:`sandbox.levelio.runs`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response, route
from sandbox.levelio.updates import Updates

__all__ = ["WEBHOOK_LIST_SHAPES", "Automation", "Automations", "WebhookTrigger"]

WEBHOOK_LIST_SHAPES = ("paged", "array")
DEFAULT_STEPS = ("Check conditions", "Run script", "Report result")


@dataclass
class Automation:
    """An automation; ``outcome`` (``success``/``failed``) overrides how its new runs end."""

    id: str
    name: str
    description: str = ""
    group_id: str | None = None
    steps: tuple[str, ...] = DEFAULT_STEPS
    outcome: str | None = None


@dataclass
class WebhookTrigger:
    """A webhook trigger saved on an automation: its secret URL token."""

    id: str
    automation_id: str
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    requires_authorization_header: bool = False


class Automations(Updates):
    """Automations, their webhook triggers, and the routes that list them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._automations: dict[str, Automation] = {}
        self._triggers: dict[str, WebhookTrigger] = {}
        self.webhook_list = "paged"
        """How ``GET /v2/automations/webhooks`` answers: ``paged`` or ``array``."""

    def add_automation(
        self,
        name: str,
        *,
        description: str = "",
        group_id: str | None = None,
        steps: tuple[str, ...] = DEFAULT_STEPS,
    ) -> Automation:
        """An automation, optionally scoped to a group."""
        with self._lock:
            if group_id is not None and group_id not in self._groups:
                raise KeyError(f"no group {group_id}")
            automation = Automation(self._new_id("aut"), name, description, group_id, steps)
            self._automations[automation.id] = automation
            return automation

    def add_webhook_trigger(
        self,
        automation_id: str,
        *,
        requires_authorization_header: bool = False,
        token: str | None = None,
    ) -> WebhookTrigger:
        """Save a webhook trigger on an automation; its token is its URL's last segment."""
        with self._lock:
            if automation_id not in self._automations:
                raise KeyError(f"no automation {automation_id}")
            trigger = WebhookTrigger(
                self._new_id("wht"),
                automation_id,
                requires_authorization_header=requires_authorization_header,
            )
            if token is not None:
                trigger.token = token
            self._triggers[trigger.token] = trigger
            return trigger

    def delete_webhook_trigger(self, token: str) -> None:
        """Delete a trigger: its token answers 404 from now on."""
        with self._lock:
            self._triggers.pop(token, None)

    def automation_view(self, automation: Automation) -> dict[str, Any]:
        """An automation as the API shows it."""
        group = self._groups.get(automation.group_id or "")
        return {
            "id": automation.id,
            "name": automation.name,
            "description": automation.description,
            "group_id": automation.group_id,
            "group_name": group.name if group else None,
        }

    def webhook_view(self, trigger: WebhookTrigger, base_url: str) -> dict[str, Any]:
        """A webhook trigger as ``GET /v2/automations/webhooks`` shows it."""
        return {
            "id": trigger.id,
            "url": f"{base_url}/v2/automations/webhooks/{trigger.token}",
            "automation_id": trigger.automation_id,
            "automation_name": self._automations[trigger.automation_id].name,
            "requires_authorization_header": trigger.requires_authorization_header,
            "parameters": ["device_ids"],
        }

    # -- routes -----------------------------------------------------------------

    @route("GET", "/v2/automations")
    def list_automations(self, req: SandboxRequest) -> httpx.Response:
        """Every automation."""
        return self.cursor_page(req, list(self._automations.values()), self.automation_view)

    @route("GET", "/v2/automations/webhooks")
    def list_webhooks(self, req: SandboxRequest) -> httpx.Response:
        """Every webhook trigger: a cursor page, or a bare array (``webhook_list``)."""
        url = req.raw.url
        base = f"{url.scheme}://{url.netloc.decode('ascii')}"
        triggers = list(self._triggers.values())
        if self.webhook_list == "array":
            return json_response(200, [self.webhook_view(t, base) for t in triggers])
        return self.cursor_page(req, triggers, lambda t: self.webhook_view(t, base))
