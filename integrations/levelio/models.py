"""Level models: action inputs and outputs (what workflows see) and reading Level's answers.

Inputs forbid unknown fields and accept exactly what their published JSON
Schema allows (``actionkit.inputs``). Level's answers are read leniently,
field by field, as vendors.md §2 "Output types" says: a value of the wrong
type becomes null, and fields the models do not name are ignored.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from actionkit.inputs import NotBlank, StrictInput, StripBlank, Uuid
from catalog.rmm import instant_or_none, text_or_none

Text = Annotated[str, StringConstraints(min_length=1, max_length=255), NotBlank, StripBlank]
Source = Literal["local", "levelio"]

DEVICE_ID_HELP = "The Level device id (as Level's API and the device's URL show it)."
LIST_LIMIT_HELP = "Return at most this many (1 to 200; 50 by default)."
# How long a step may follow a triggered run: 30 s to a day, 30 minutes by default.
MIN_RUN_TIMEOUT = 30
MAX_RUN_TIMEOUT = 86_400
DEFAULT_RUN_TIMEOUT = 1_800
# Devices one trigger may name; a followed trigger reads each run on every check.
MAX_TRIGGER_DEVICES = 1_000
MAX_FOLLOWED_DEVICES = 50


# -- inputs -------------------------------------------------------------------------


class FindDevicesInput(StrictInput):
    """Which devices to find: all filters given must match; none lists every device.

    The local mirror (assets synced from Level) is searched by default;
    ``live: true`` asks Level.
    """

    device_id: Text | None = Field(default=None, description=DEVICE_ID_HELP)
    asset_id: Uuid | None = Field(
        default=None, description="A local asset; matches the Level device it mirrors."
    )
    group_id: Text | None = Field(
        default=None,
        description=("A Level group id: devices directly in that group (not in groups below it)."),
    )
    query: Text | None = Field(
        default=None,
        description=(
            "Locally: text matched against the asset's name, tag and serial number. Live: "
            "text the device's hostname contains (any case)."
        ),
    )
    live: bool = Field(
        default=False,
        description=(
            "Ask Level instead of the local mirror; the mirror holds only what was synced, "
            "so an empty answer there may not be empty at Level."
        ),
    )
    limit: int = Field(default=50, ge=1, le=200, description=LIST_LIMIT_HELP)


class GetDeviceInput(StrictInput):
    """The one Level device to read."""

    device_id: Text = Field(description=DEVICE_ID_HELP)


class ListActiveAlertsInput(StrictInput):
    """Which active alerts to list."""

    device_id: Text | None = Field(
        default=None, description="Only alerts raised on this Level device."
    )
    live: bool = Field(
        default=False,
        description=(
            "Ask Level instead of the local mirror of alerts (kept by Level's webhooks or a "
            "sync); the mirror may lag behind Level."
        ),
    )
    limit: int = Field(default=50, ge=1, le=200, description=LIST_LIMIT_HELP)


class ResolveAlertInput(StrictInput):
    """The Level alert to resolve."""

    alert_id: Text = Field(description="The Level alert id (alert_id in alerts.list_active).")


class ListUpdatesInput(StrictInput):
    """Which updates (patches) to list."""

    device_id: Text | None = Field(default=None, description="Only updates of this Level device.")
    status: Literal["available", "installed"] | None = Field(
        default=None,
        description="available: not installed yet; installed: already on the device; "
        "omitted: both.",
    )
    limit: int = Field(
        default=100,
        ge=1,
        le=500,
        description="Return at most this many (1 to 500; 100 by default).",
    )


class ListAutomationsInput(StrictInput):
    """Which automations to list."""

    query: Text | None = Field(
        default=None, description="Keep automations whose name contains this text (any case)."
    )
    limit: int = Field(default=50, ge=1, le=200, description=LIST_LIMIT_HELP)


def _exactly(field: str, other: str) -> dict[str, Any]:
    """Schema: ``field`` is a string and ``other`` is absent or null."""
    return {
        "required": [field],
        "properties": {field: {"type": "string"}},
        "anyOf": [{"not": {"required": [other]}}, {"properties": {other: {"type": "null"}}}],
    }


class TriggerAutomationInput(StrictInput):
    """Which automation to start (by its webhook trigger), on which devices, and whether to wait."""

    # The published schema carries the cross-field rules the validators below enforce.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                _exactly("automation_id", "webhook_token"),
                _exactly("webhook_token", "automation_id"),
            ],
            "if": {"properties": {"wait_for_run": {"const": True}}, "required": ["wait_for_run"]},
            "then": {"properties": {"device_ids": {"maxItems": MAX_FOLLOWED_DEVICES}}},
        }
    )

    webhook_token: Text | None = Field(
        default=None,
        description=(
            "The token of the automation's webhook trigger (the last part of its webhook "
            "URL), as the reference takes it. The token lets anyone start the automation, "
            "so prefer automation_id: a token given here is stored with the step's input."
        ),
    )
    automation_id: Text | None = Field(
        default=None,
        validate_default=True,
        description=(
            "The Level automation to start (automation_id in automations.list); its webhook "
            "trigger's token is looked up at run time, so it never appears in the step's "
            "input or output. Give this or webhook_token, not both."
        ),
    )
    device_ids: list[Text] = Field(
        default_factory=list,
        max_length=MAX_TRIGGER_DEVICES,
        description=(
            "Level device ids to run the automation on; empty sends no devices and Level "
            "applies the trigger's own scope."
        ),
    )
    wait_for_run: bool = Field(
        default=False,
        description=(
            "Follow the run this trigger starts to its end, without holding a worker, and "
            "return its final status and steps (at most 50 devices). When Level's answer or "
            "its run list does not identify the run, the output says so instead of guessing."
        ),
    )
    run_timeout: int = Field(
        default=DEFAULT_RUN_TIMEOUT,
        ge=MIN_RUN_TIMEOUT,
        le=MAX_RUN_TIMEOUT,
        description=(
            "With wait_for_run: seconds to follow the run before the step ends TIMEOUT "
            "(30 to 86400; 1800 by default). The automation keeps running at Level."
        ),
    )

    @field_validator("automation_id")
    @classmethod
    def _one_way_to_name_it(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "webhook_token" not in info.data:
            return value  # webhook_token is itself invalid and named
        token = info.data["webhook_token"]
        if value is None and token is None:
            raise PydanticCustomError("missing", "give automation_id (or webhook_token)")
        if value is not None and token is not None:
            raise PydanticCustomError(
                "extra_forbidden", "give automation_id or webhook_token, not both"
            )
        return value

    @model_validator(mode="after")
    def _few_devices_when_following(self) -> TriggerAutomationInput:
        if self.wait_for_run and len(self.device_ids) > MAX_FOLLOWED_DEVICES:
            raise PydanticCustomError(
                "too_long",
                "device_ids: at most {limit} devices when wait_for_run is true",
                {"limit": MAX_FOLLOWED_DEVICES},
            )
        return self


class RunStatusInput(StrictInput):
    """The automation run to read."""

    run_id: Text = Field(description="The Level automation run id.")
    include_steps: bool = Field(
        default=False, description="Also return the run's steps, each with its own status."
    )


# -- outputs ------------------------------------------------------------------------


class Device(BaseModel):
    """One Level device, from the local mirror or from Level."""

    device_id: str = Field(description="The Level device id.")
    asset_id: uuid.UUID | None = Field(
        description="The local asset mirroring this device, if one does."
    )
    hostname: str | None = Field(description="The device's host name.")
    nickname: str | None = Field(description="The nickname given to the device in Level.")
    group_id: str | None = Field(description="The Level group the device is directly in.")
    online: bool | None = Field(
        description="Whether Level sees the device online; null when it did not say."
    )
    platform: str | None = Field(description="Windows, Mac or Linux.")
    os_name: str | None = Field(
        description="The full operating system name, e.g. Microsoft Windows 11 Pro 23H2."
    )
    serial_number: str | None = Field(description="The hardware serial number.")
    last_seen_at: datetime | None = Field(description="When the device last checked in.")
    security_score: int | float | None = Field(
        description="Level's security score of the device (higher is better)."
    )
    source: Source = Field(
        description="Where this row comes from: local (the mirror) or levelio (Level itself)."
    )


class FindDevicesOutput(BaseModel):
    """The devices found."""

    devices: list[Device] = Field(description="The devices found, at most limit of them.")
    count: int = Field(description="How many devices were found (the length of devices).")


class GetDeviceOutput(BaseModel):
    """The device read from Level, with its operating system and security details."""

    device: Device = Field(description="The device as Level reports it now.")
    operating_system: Any | None = Field(
        description="Level's operating system details (full name, version, architecture)."
    )
    security: Any | None = Field(
        description="Level's security details (antivirus, firewall, disk encryption, ...)."
    )


class Alert(BaseModel):
    """One Level alert, from the local mirror or from Level."""

    alert_id: str = Field(description="The Level alert id (what alerts.resolve takes).")
    device_id: str | None = Field(description="The Level device the alert was raised on.")
    device_hostname: str | None = Field(description="That device's host name.")
    name: str | None = Field(description="What the alert is about, e.g. CPU usage.")
    description: str | None = Field(description="Level's text explaining the alert.")
    severity: str | None = Field(description="information, warning, critical or emergency.")
    is_resolved: bool = Field(description="Whether the alert has been resolved.")
    started_at: datetime | None = Field(description="When the alert was raised.")
    resolved_at: datetime | None = Field(description="When it was resolved, if it was.")


class ListAlertsOutput(BaseModel):
    """The active alerts found."""

    alerts: list[Alert] = Field(description="Active alerts, at most limit of them.")
    count: int = Field(description="How many alerts were found (the length of alerts).")


class ResolveAlertOutput(BaseModel):
    """Level accepted the resolution."""

    resolved: bool = Field(description="Always true: Level resolved the alert.")
    alert_id: str = Field(description="The Level alert that was resolved.")


class Update(BaseModel):
    """One update (patch) of a device."""

    update_id: str | None = Field(description="The Level update id.")
    device_id: str | None = Field(description="The Level device it applies to.")
    device_hostname: str | None = Field(description="That device's host name.")
    name: str | None = Field(description="The update's name, e.g. a KB article or a version.")
    category: str | None = Field(description="Its category, e.g. Security or Application.")
    is_available: bool | None = Field(
        description="True while it can be installed; false once installed."
    )
    installed_on: datetime | None = Field(description="When it was installed, if it was.")


class ListUpdatesOutput(BaseModel):
    """The updates found."""

    updates: list[Update] = Field(description="The updates found, at most limit of them.")
    count: int = Field(description="How many updates were found (the length of updates).")


class Automation(BaseModel):
    """One Level automation and its webhook trigger, if it has one."""

    automation_id: str | None = Field(description="The Level automation id.")
    name: str | None = Field(description="The automation's name.")
    description: str | None = Field(description="What the automation does, as written in Level.")
    group_id: str | None = Field(description="The group it is scoped to; null for none.")
    group_name: str | None = Field(description="That group's name.")
    has_webhook_trigger: bool = Field(
        description="Whether it has a webhook trigger (then automations.trigger can start it)."
    )
    webhook_token: str | None = Field(
        description=(
            "Its webhook trigger's token; stored redacted, since it lets anyone start the "
            "automation: trigger by automation_id instead. Null when it has no webhook trigger."
        )
    )
    webhook_requires_authorization: bool | None = Field(
        description=(
            "Whether its webhook trigger requires an authorization header (then only a "
            "read/write API key can trigger it)."
        )
    )


class ListAutomationsOutput(BaseModel):
    """The automations found."""

    automations: list[Automation] = Field(
        description="The automations found, at most limit of them, in Level's order."
    )
    count: int = Field(description="How many automations were found (the length of automations).")


class Run(BaseModel):
    """One run of an automation on one device."""

    run_id: str | None = Field(description="The Level automation run id.")
    automation_id: str | None = Field(description="The automation that ran.")
    automation_name: str | None = Field(description="That automation's name.")
    device_id: str | None = Field(description="The device it ran on, if any.")
    device_hostname: str | None = Field(description="That device's host name.")
    status: str | None = Field(
        description="Level's status of the run, e.g. pending, running, success, failed."
    )
    started_at: datetime | None = Field(description="When the run started, once it has.")
    ended_at: datetime | None = Field(description="When the run ended, once it has.")


class RunStatusOutput(BaseModel):
    """The automation run, now."""

    run: Run = Field(description="The run as Level reports it now.")
    steps: Any | None = Field(
        description="The run's steps as Level lists them, when include_steps was true."
    )


class FollowedRun(Run):
    """A run the trigger started, as it ended (or stood when last read)."""

    steps: Any | None = Field(description="The run's steps as Level lists them.")


class TriggerAutomationOutput(BaseModel):
    """What Level said to the trigger, and the run it started when the step followed it."""

    triggered: bool = Field(description="Always true: Level accepted the trigger.")
    automation_id: str | None = Field(
        description="The automation triggered (null when only a token was given and not listed)."
    )
    webhook_token: str | None = Field(
        description="The webhook trigger's token that was used; stored redacted."
    )
    vendor_response: Any | None = Field(
        description="Level's answer to the trigger as it came (often empty; undocumented)."
    )
    followed: bool = Field(
        description="Whether the step identified the run and followed it to a final status."
    )
    why: str | None = Field(
        description="Why the run was not followed (not asked, or not identifiable); null if it was."
    )
    run_id: str | None = Field(
        description=(
            "The run this trigger started (the first one when it named several devices); "
            "null when it could not be identified."
        )
    )
    run_ids: list[str] = Field(description="Every run this trigger started, one per device.")
    status: str | None = Field(
        description=(
            "The final status when followed: the run's, the runs' common one, or mixed when "
            "they differ; null when not followed."
        )
    )
    runs: list[FollowedRun] = Field(
        description="The followed runs with their final status and steps; empty when not followed."
    )


# -- reading Level's answers -----------------------------------------------------------


def ident(value: Any) -> str | None:
    """An id Level sent: a non-empty string, or an integer as text; else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text_or_none(value)


def flag(value: Any) -> bool | None:
    """``value`` if it is a boolean, else None."""
    return value if isinstance(value, bool) else None


def number(value: Any) -> int | float | None:
    """``value`` if it is a number (not a boolean), else None."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def device_from(item: dict[str, Any], asset_id: uuid.UUID | None) -> Device:
    """A device as Level sent it (``id``, ``hostname ?? name``, ``operating_system``...)."""
    system = item.get("operating_system")
    full_name = system.get("full_operating_system") if isinstance(system, dict) else None
    return Device(
        device_id=ident(item.get("id")) or "",
        asset_id=asset_id,
        hostname=text_or_none(item.get("hostname")) or text_or_none(item.get("name")),
        nickname=text_or_none(item.get("nickname")),
        group_id=ident(item.get("group_id")),
        online=flag(item.get("online")),
        platform=text_or_none(item.get("platform")),
        os_name=text_or_none(full_name) or text_or_none(item.get("os_type")),
        serial_number=text_or_none(item.get("serial_number")),
        last_seen_at=instant_or_none(item.get("last_seen_at")),
        security_score=number(item.get("security_score")),
        source="levelio",
    )


def alert_from(item: dict[str, Any]) -> Alert:
    """An alert as Level sent it (a mirrored row's ``source_data`` holds the same fields)."""
    resolved = flag(item.get("is_resolved"))
    return Alert(
        alert_id=ident(item.get("id")) or "",
        device_id=ident(item.get("device_id")),
        device_hostname=text_or_none(item.get("device_hostname")),
        name=text_or_none(item.get("name")),
        description=text_or_none(item.get("description")),
        severity=text_or_none(item.get("severity")),
        is_resolved=resolved if resolved is not None else item.get("status") == "resolved",
        started_at=instant_or_none(item.get("started_at")),
        resolved_at=instant_or_none(item.get("resolved_at")),
    )


def update_from(item: dict[str, Any]) -> Update:
    """An update as ``/v2/updates`` lists it."""
    return Update(
        update_id=ident(item.get("id")),
        device_id=ident(item.get("device_id")),
        device_hostname=text_or_none(item.get("device_hostname")),
        name=text_or_none(item.get("name")),
        category=text_or_none(item.get("category")),
        is_available=flag(item.get("is_available")),
        installed_on=instant_or_none(item.get("installed_on")),
    )


def run_from(item: dict[str, Any]) -> Run:
    """An automation run as ``/v2/automation-runs`` returns it."""
    return Run(**_run_fields(item))


def followed_run_from(item: dict[str, Any]) -> FollowedRun:
    """A run with its steps (as read with ``include_steps=true``)."""
    return FollowedRun(**_run_fields(item), steps=item.get("steps"))


def _run_fields(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": ident(item.get("id")),
        "automation_id": ident(item.get("automation_id")),
        "automation_name": text_or_none(item.get("automation_name")),
        "device_id": ident(item.get("device_id")),
        "device_hostname": text_or_none(item.get("device_hostname")),
        "status": text_or_none(item.get("status")),
        "started_at": instant_or_none(item.get("started_at")),
        "ended_at": instant_or_none(item.get("ended_at")),
    }
