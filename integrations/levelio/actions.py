"""The Level actions: their specs, in catalog order.

Handlers are plain functions ``(input, ctx) -> output | Pending``, one
module per noun: ``devices.py``, ``alerts.py``, ``updates.py``,
``automations.py``, and triggering an automation (and following its run) in
``triggers.py``; the connection and client they share are in
``connection.py``.
"""

from __future__ import annotations

from typing import Any

from actionkit.spec import ActionSpec, ActionUI
from catalog.actions import ActionRegistry
from integrations.levelio.alerts import list_active_alerts, resolve_alert
from integrations.levelio.automations import list_automations, run_status
from integrations.levelio.connection import LABEL
from integrations.levelio.devices import find_devices, get_device
from integrations.levelio.models import (
    FindDevicesInput,
    FindDevicesOutput,
    GetDeviceInput,
    GetDeviceOutput,
    ListActiveAlertsInput,
    ListAlertsOutput,
    ListAutomationsInput,
    ListAutomationsOutput,
    ListUpdatesInput,
    ListUpdatesOutput,
    ResolveAlertInput,
    ResolveAlertOutput,
    RunStatusInput,
    RunStatusOutput,
    TriggerAutomationInput,
    TriggerAutomationOutput,
)
from integrations.levelio.triggers import check_trigger, trigger_automation
from integrations.levelio.updates import list_updates

__all__ = ["ACTIONS", "FIND_DEVICES", "register_actions"]

ICON = "levelio"


def _ui(label: str, description: str) -> ActionUI:
    return ActionUI(label=label, description=description, category=LABEL, icon=ICON)


FIND_DEVICES = ActionSpec(
    id="levelio.devices.find",
    version=1,
    input_model=FindDevicesInput,
    output_model=FindDevicesOutput,
    handler=find_devices,
    side_effectful=False,
    ui=_ui("Find devices", "Find Level devices in the local mirror or live."),
)
GET_DEVICE = ActionSpec(
    id="levelio.devices.get",
    version=1,
    input_model=GetDeviceInput,
    output_model=GetDeviceOutput,
    handler=get_device,
    side_effectful=False,
    ui=_ui("Get device", "One Level device with its operating system and security details."),
)
LIST_ACTIVE_ALERTS = ActionSpec(
    id="levelio.alerts.list_active",
    version=1,
    input_model=ListActiveAlertsInput,
    output_model=ListAlertsOutput,
    handler=list_active_alerts,
    side_effectful=False,
    ui=_ui("List active alerts", "Active Level alerts, from the local mirror or live."),
)
RESOLVE_ALERT = ActionSpec(
    id="levelio.alerts.resolve",
    version=1,
    input_model=ResolveAlertInput,
    output_model=ResolveAlertOutput,
    handler=resolve_alert,
    side_effectful=True,
    ui=_ui("Resolve alert", "Resolve a Level alert (needs a read/write API key)."),
)
LIST_UPDATES = ActionSpec(
    id="levelio.updates.list",
    version=1,
    input_model=ListUpdatesInput,
    output_model=ListUpdatesOutput,
    handler=list_updates,
    side_effectful=False,
    ui=_ui("List updates", "Updates (patches) available or installed on Level devices."),
)
LIST_AUTOMATIONS = ActionSpec(
    id="levelio.automations.list",
    version=1,
    input_model=ListAutomationsInput,
    output_model=ListAutomationsOutput,
    handler=list_automations,
    side_effectful=False,
    ui=_ui(
        "List automations",
        "Level automations with their webhook trigger tokens, to trigger them by.",
    ),
)
TRIGGER_AUTOMATION = ActionSpec(
    id="levelio.automations.trigger",
    version=1,
    input_model=TriggerAutomationInput,
    output_model=TriggerAutomationOutput,
    handler=trigger_automation,
    check=check_trigger,
    side_effectful=True,
    ui=_ui(
        "Trigger automation",
        "Start a Level automation through its webhook trigger and, optionally, follow its "
        "run to the end.",
    ),
)
RUN_STATUS = ActionSpec(
    id="levelio.automations.run_status",
    version=1,
    input_model=RunStatusInput,
    output_model=RunStatusOutput,
    handler=run_status,
    side_effectful=False,
    ui=_ui(
        "Automation run status", "The status of one Level automation run, optionally with steps."
    ),
)

ACTIONS: tuple[ActionSpec[Any, Any], ...] = (
    FIND_DEVICES,
    GET_DEVICE,
    LIST_ACTIVE_ALERTS,
    RESOLVE_ALERT,
    LIST_UPDATES,
    LIST_AUTOMATIONS,
    TRIGGER_AUTOMATION,
    RUN_STATUS,
)


def register_actions(actions: ActionRegistry) -> None:
    """Register the Level actions."""
    for spec in ACTIONS:
        actions.register(spec)
