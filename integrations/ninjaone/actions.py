"""The NinjaOne actions: their specs, in catalog order, and ``register_actions``.

The handlers are plain functions ``(input, ctx) -> output | Pending``, one
module per noun: ``devices.py``, ``scripts.py``, ``alerts.py``; what they
share (the tenant's connection, its client) is in ``connection.py``.
"""

from __future__ import annotations

from typing import Any

from actionkit.spec import ActionSpec, ActionUI
from catalog.actions import ActionRegistry
from integrations.ninjaone.alerts import (
    get_alert,
    list_active_alerts,
    reconcile_reset_alert,
    reset_alert,
)
from integrations.ninjaone.connection import PROVIDER
from integrations.ninjaone.devices import find_devices, reboot_device, sync_device
from integrations.ninjaone.models import (
    AlertInput,
    DeviceInput,
    FindDevicesInput,
    FindDevicesOutput,
    GetAlertOutput,
    ListActiveAlertsInput,
    ListAlertsOutput,
    RebootDeviceInput,
    RebootDeviceOutput,
    ResetAlertOutput,
    RunScriptInput,
    RunScriptOutput,
    ScriptingOptionsOutput,
    SyncDeviceOutput,
)
from integrations.ninjaone.scripts import check_run_script, run_script, scripting_options

__all__ = ["ACTIONS", "FIND_DEVICES", "PROVIDER", "register_actions"]

CATEGORY = "NinjaOne"
ICON = "ninjaone"


def _ui(label: str, description: str) -> ActionUI:
    return ActionUI(label=label, description=description, category=CATEGORY, icon=ICON)


FIND_DEVICES = ActionSpec(
    id="ninjaone.devices.find",
    version=1,
    input_model=FindDevicesInput,
    output_model=FindDevicesOutput,
    handler=find_devices,
    side_effectful=False,
    ui=_ui("Find devices", "Find NinjaOne devices in the local mirror or live."),
)
SYNC_DEVICE = ActionSpec(
    id="ninjaone.devices.sync",
    version=1,
    input_model=DeviceInput,
    output_model=SyncDeviceOutput,
    handler=sync_device,
    side_effectful=True,
    ui=_ui("Sync device", "Fetch a device from NinjaOne and update its local asset."),
)
REBOOT_DEVICE = ActionSpec(
    id="ninjaone.devices.reboot",
    version=1,
    input_model=RebootDeviceInput,
    output_model=RebootDeviceOutput,
    handler=reboot_device,
    side_effectful=True,
    ui=_ui("Reboot device", "Reboot a NinjaOne device (normal or forced)."),
)
SCRIPTING_OPTIONS = ActionSpec(
    id="ninjaone.devices.scripting_options",
    version=1,
    input_model=DeviceInput,
    output_model=ScriptingOptionsOutput,
    handler=scripting_options,
    side_effectful=False,
    ui=_ui("List runnable scripts", "Scripts and built-in actions a device can run."),
)
RUN_SCRIPT = ActionSpec(
    id="ninjaone.devices.run_script",
    version=1,
    input_model=RunScriptInput,
    output_model=RunScriptOutput,
    handler=run_script,
    check=check_run_script,
    side_effectful=True,
    ui=_ui(
        "Run script",
        "Run a script or built-in action on a device, optionally waiting for its output.",
    ),
)
LIST_ACTIVE_ALERTS = ActionSpec(
    id="ninjaone.alerts.list_active",
    version=1,
    input_model=ListActiveAlertsInput,
    output_model=ListAlertsOutput,
    handler=list_active_alerts,
    side_effectful=False,
    ui=_ui("List active alerts", "Active NinjaOne alerts, newest first."),
)
GET_ALERT = ActionSpec(
    id="ninjaone.alerts.get",
    version=1,
    input_model=AlertInput,
    output_model=GetAlertOutput,
    handler=get_alert,
    side_effectful=False,
    ui=_ui("Get alert", "One NinjaOne alert by its id."),
)
RESET_ALERT = ActionSpec(
    id="ninjaone.alerts.reset",
    version=1,
    input_model=AlertInput,
    output_model=ResetAlertOutput,
    handler=reset_alert,
    reconcile=reconcile_reset_alert,
    side_effectful=True,
    ui=_ui("Acknowledge alert", "Reset a NinjaOne alert and mark it acknowledged locally."),
)

ACTIONS: tuple[ActionSpec[Any, Any], ...] = (
    FIND_DEVICES,
    SYNC_DEVICE,
    REBOOT_DEVICE,
    SCRIPTING_OPTIONS,
    RUN_SCRIPT,
    LIST_ACTIVE_ALERTS,
    GET_ALERT,
    RESET_ALERT,
)


def register_actions(actions: ActionRegistry) -> None:
    """Register the eight NinjaOne actions."""
    for spec in ACTIONS:
        actions.register(spec)
