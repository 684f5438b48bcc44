"""NinjaOne models: action inputs and outputs (what workflows see) and the vendor's wire shapes.

Input models forbid unknown fields and enforce what NinjaOne itself enforces,
so a bad step fails with VALIDATION_ERROR naming the field before anything is
sent; they accept exactly what their published JSON Schema allows (strict
types from ``actionkit.inputs``; cross-field rules are in the schema too).
Wire models ignore fields they do not name: the vendor adds fields freely,
and its spec declares most responses without a schema.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from actionkit.inputs import (
    Matches,
    NotBlank,
    StrictInput,
    StripBlank,
    Uuid,
    UuidStr,
    anchored,
)

# The spec's ``runAs`` spellings (PolicyConditionScript.runAs); a stored
# credential is named by its numeric id instead.
RUN_AS_ROLES = (
    "SYSTEM",
    "LOGGED_ON_USER",
    "LOCAL_ADMIN",
    "DOMAIN_ADMIN",
    "PREFERRED_CREDENTIAL_MAC",
    "PREFERRED_CREDENTIAL_LINUX",
)
MAX_SCRIPT_PARAMETERS = 30_000
MAX_INT32 = 2_147_483_647
REBOOT_MODES = ("NORMAL", "FORCED")

DeviceId = Annotated[
    int, Field(gt=0, le=MAX_INT32, description="NinjaOne device id (the vendor's `id`).")
]
# The spec declares the uid of ``/v2/alert/{uid}`` (reset) as ``format: uuid``.
AlertUid = UuidStr
Limit = Annotated[
    int, Field(ge=1, le=200, description="Return at most this many (1 to 200; 50 by default).")
]
Live = Annotated[
    bool,
    Field(
        description=(
            "Ask NinjaOne itself (one or more API calls) instead of the local mirror; "
            "the mirror holds only what was synced, so an empty answer there may not be "
            "empty at NinjaOne."
        )
    ),
]
# Where a listing came from; the same words as each device's own ``source``.
Source = Annotated[
    Literal["local", "ninjaone"],
    Field(
        description=(
            "Where these results come from: local (the mirror: devices synced with "
            "ninjaone.devices.sync, alerts recorded locally) or ninjaone (asked live). "
            "Set live: true to ask NinjaOne when the mirror finds nothing."
        )
    ),
]
SearchText = Annotated[str, StringConstraints(min_length=1, max_length=255), NotBlank, StripBlank]
RunAs = Annotated[
    str,
    Matches(
        anchored("|".join((*RUN_AS_ROLES, "[0-9]+"))),
        "run_as must be one of " + ", ".join(RUN_AS_ROLES) + " or the numeric id of a stored "
        "credential",
    ),
]


def epoch_seconds(value: float | None) -> datetime | None:
    """A NinjaOne timestamp (epoch *seconds*, possibly fractional) as an aware UTC datetime."""
    if value is None:
        return None
    return datetime.fromtimestamp(value, UTC)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# -- inputs -------------------------------------------------------------------------


class FindDevicesInput(StrictInput):
    """Which devices to find: all filters given must match; none lists every device.

    The local mirror is searched by default (only devices synced with
    ``ninjaone.devices.sync``); ``live: true`` asks NinjaOne.
    """

    device_id: DeviceId | None = None
    asset_id: Uuid | None = Field(
        default=None, description="A local asset; matches the device it mirrors."
    )
    query: SearchText | None = Field(
        default=None,
        description="Free text matched against names (host, display, DNS); not a device filter.",
    )
    live: Live = False
    limit: Limit = 50


class DeviceInput(StrictInput):
    """The one NinjaOne device the action is about."""

    device_id: DeviceId


class RebootDeviceInput(StrictInput):
    """The device to reboot, how, and why (NinjaOne logs the reason with the reboot)."""

    device_id: DeviceId
    mode: Literal["NORMAL", "FORCED"] = Field(
        default="NORMAL",
        description=(
            "NORMAL lets the operating system close programs as usual; FORCED reboots "
            "even if users are logged on or programs refuse to close."
        ),
    )
    reason: Annotated[str, StringConstraints(max_length=1000), StripBlank] | None = Field(
        default=None,
        description="Why the device is rebooted; NinjaOne records it in the device's activity.",
    )


class RunScriptInput(StrictInput):
    """What to run on which device: a custom script (by id) or a built-in action (by uid)."""

    # The published schema carries the cross-field rule the validators below enforce.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"type": {"const": "ACTION"}}, "required": ["type"]},
            "then": {
                "required": ["action_uid"],
                "properties": {"action_uid": {"not": {"type": "null"}}},
            },
            "else": {
                "required": ["script_id"],
                "properties": {"script_id": {"not": {"type": "null"}}},
            },
        }
    )

    device_id: DeviceId
    type: Literal["SCRIPT", "ACTION"] = Field(
        default="SCRIPT",
        description=(
            "SCRIPT: a script from the NinjaOne library, named by script_id; ACTION: a "
            "built-in action, named by action_uid (ninjaone.devices.scripting_options lists both)."
        ),
    )
    script_id: int | None = Field(
        default=None,
        gt=0,
        le=MAX_INT32,
        validate_default=True,
        description="The script's id in NinjaOne (its id in scripting_options); required "
        "when type is SCRIPT.",
    )
    action_uid: Uuid | None = Field(
        default=None,
        validate_default=True,
        description="The built-in action's uid (its uid in scripting_options); required when "
        "type is ACTION.",
    )
    parameters: str | None = Field(
        default=None,
        max_length=MAX_SCRIPT_PARAMETERS,
        description="One string, passed to the script as its command line.",
    )
    run_as: RunAs | None = Field(
        default=None,
        description=(
            "SYSTEM (the vendor's default), LOGGED_ON_USER, LOCAL_ADMIN, DOMAIN_ADMIN, "
            "PREFERRED_CREDENTIAL_MAC, PREFERRED_CREDENTIAL_LINUX, or a stored credential's id."
        ),
    )
    wait_for_result: bool = Field(
        default=False,
        description="Wait (without holding a worker) until NinjaOne reports the result.",
    )
    timeout_seconds: int = Field(
        default=900,
        ge=10,
        le=86_400,
        description="With wait_for_result: how long to wait before the step ends TIMEOUT.",
    )

    @field_validator("script_id")
    @classmethod
    def _script_id_for_scripts(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None and info.data.get("type") == "SCRIPT":
            raise PydanticCustomError("missing", "script_id is required when type is SCRIPT")
        return value

    @field_validator("action_uid")
    @classmethod
    def _action_uid_for_actions(
        cls, value: uuid.UUID | None, info: ValidationInfo
    ) -> uuid.UUID | None:
        if value is None and info.data.get("type") == "ACTION":
            raise PydanticCustomError("missing", "action_uid is required when type is ACTION")
        return value


class ListActiveAlertsInput(StrictInput):
    """How many active alerts to list, and whether to ask NinjaOne instead of the local mirror."""

    limit: Limit = 50
    live: Live = False


class AlertInput(StrictInput):
    """One alert, by its local id or NinjaOne uid (``alert_uid``) or NinjaOne uid only.

    Both are UUIDs: a local alert id is the mirror's key, and NinjaOne declares
    the alert uid of ``/v2/alert/{uid}`` as ``format: uuid``.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["alert_uid"], "properties": {"alert_uid": {"type": "string"}}},
                {
                    "required": ["external_alert_id"],
                    "properties": {"external_alert_id": {"type": "string"}},
                },
            ]
        }
    )

    external_alert_id: AlertUid | None = Field(
        default=None, description="The alert's uid at NinjaOne (its external_alert_id)."
    )
    alert_uid: AlertUid | None = Field(
        default=None,
        validate_default=True,
        description="The alert_id a listing returned (local id, or the NinjaOne uid).",
    )

    @field_validator("alert_uid")
    @classmethod
    def _one_reference(cls, value: str | None, info: ValidationInfo) -> str | None:
        # An external_alert_id that failed its own validation is already reported.
        given = info.data.get("external_alert_id", "invalid")
        if value is None and given is None:
            raise PydanticCustomError("missing", "alert_uid or external_alert_id is required")
        return value


# -- outputs ------------------------------------------------------------------------


ExternalDeviceId = Annotated[
    str, Field(description="The device's id at NinjaOne, as text (what device_id inputs take).")
]
AssetId = Annotated[
    uuid.UUID | None,
    Field(description="The local asset mirroring the device; null if it was never synced."),
]
Count = Annotated[int, Field(description="How many entries the list holds.")]


class Device(BaseModel):
    """A device, from the local mirror (``source: local``) or from NinjaOne."""

    external_device_id: ExternalDeviceId
    asset_id: AssetId
    organization_id: str | None = Field(
        description="The NinjaOne organization (the MSP's client) the device belongs to."
    )
    hostname: str | None = Field(description="The name the operating system reports.")
    display_name: str | None = Field(description="The name shown in NinjaOne.")
    dns_name: str | None = Field(description="The fully qualified DNS name, if NinjaOne knows it.")
    agent_online: bool | None = Field(
        description="Whether the NinjaOne agent is online; null when the vendor does not say."
    )
    last_seen_at: datetime | None = Field(
        description="When the agent last contacted NinjaOne (UTC)."
    )
    os_name: str | None = Field(description="Operating system, e.g. Windows Server 2022.")
    node_class: str | None = Field(
        description="NinjaOne's kind of device, e.g. WINDOWS_SERVER, WINDOWS_WORKSTATION, MAC."
    )
    source: Literal["local", "ninjaone"] = Field(
        description="local: read from the mirror; ninjaone: asked live."
    )


class FindDevicesOutput(BaseModel):
    """The devices found, and where they were looked for."""

    devices: list[Device] = Field(description="The devices found, at most limit of them.")
    count: Count
    source: Source


class SyncDeviceOutput(BaseModel):
    """The device as now mirrored in the local assets."""

    synced: bool = Field(description="True: NinjaOne answered and the local asset was updated.")
    external_device_id: ExternalDeviceId
    asset_id: uuid.UUID | None = Field(description="The local asset created or updated for it.")


class RebootDeviceOutput(BaseModel):
    """NinjaOne accepted the reboot request (the reboot itself happens on the device later)."""

    reboot_requested: bool = Field(description="True: NinjaOne accepted the reboot request.")
    external_device_id: ExternalDeviceId


class ScriptOption(BaseModel):
    """A script (``type: SCRIPT``, run by ``id``) or built-in action (``ACTION``, by ``uid``)."""

    id: int | None = Field(description="A script's id: run_script's script_id (SCRIPT only).")
    uid: str | None = Field(description="A built-in action's uid: run_script's action_uid.")
    name: str | None = Field(description="The name NinjaOne shows for it.")
    type: str = Field(description="SCRIPT (a library script) or ACTION (a built-in action).")
    language: str | None = Field(
        default=None, description="The script's language, e.g. PowerShell or ShellScript."
    )
    description: str | None = Field(
        default=None, description="What the script does, as written in the NinjaOne library."
    )
    category_id: int | None = Field(
        default=None, description="The NinjaOne script category it is filed under."
    )


class ScriptingOptionsOutput(BaseModel):
    """What the device can run: its scripts first, then the built-in actions."""

    scripts: list[ScriptOption] = Field(description="Scripts and built-in actions, each once.")
    count: Count


class RunScriptOutput(BaseModel):
    """The run request, and with ``wait_for_result`` the outcome NinjaOne reported."""

    run_requested: bool = Field(description="True: NinjaOne accepted the run request.")
    external_device_id: ExternalDeviceId
    vendor_response: dict[str, Any] | None = Field(
        default=None,
        description="NinjaOne's answer to the run request, if it sent a body (usually none).",
    )
    completed: bool = Field(
        default=False,
        description="True when the step waited (wait_for_result) and the run finished.",
    )
    result: str | None = Field(
        default=None, description="SUCCESS or FAILURE as NinjaOne reported it, when completed."
    )
    output: str | None = Field(
        default=None, description="What the script printed, as NinjaOne logged it, when completed."
    )
    exit_code: int | None = Field(
        default=None, description="The script's exit code, when completed and reported."
    )
    series_uid: str | None = Field(
        default=None, description="NinjaOne's id of the run's activity series (its log entries)."
    )
    completed_at: datetime | None = Field(
        default=None, description="When NinjaOne logged the result (UTC), when completed."
    )


class Alert(BaseModel):
    """An alert, from the local mirror or NinjaOne (there ``alert_id`` is the vendor uid)."""

    alert_id: str = Field(
        description="What alerts.get and alerts.reset take as alert_uid: the local id, or the "
        "NinjaOne uid for an alert asked live."
    )
    external_alert_id: str = Field(description="The alert's uid at NinjaOne.")
    status: str = Field(description="active, or acknowledged once reset.")
    severity: str | None = Field(
        description="The severity NinjaOne gives it, e.g. CRITICAL, MAJOR, NONE."
    )
    priority: str | None = Field(
        description="The priority NinjaOne gives it, e.g. HIGH, MEDIUM, NONE."
    )
    title: str | None = Field(description="A short name: the condition or subject that fired.")
    message: str | None = Field(description="NinjaOne's text describing what happened.")
    device_id: str | None = Field(description="The NinjaOne id of the device the alert is on.")
    asset_id: uuid.UUID | None = Field(
        description="The local asset mirroring that device; null if it was never synced."
    )
    source_type: str | None = Field(
        description="What raised the alert, e.g. CONDITION_AGENT_CPU (a policy condition)."
    )
    created_at: datetime | None = Field(description="When the alert was raised (UTC).")
    updated_at: datetime | None = Field(description="When the alert last changed (UTC).")
    acknowledged: bool = Field(description="True once it was reset (acknowledged).")


class ListAlertsOutput(BaseModel):
    """The active alerts found, newest first, and where they were looked for."""

    alerts: list[Alert] = Field(description="The active alerts, newest first.")
    count: Count
    source: Source


class GetAlertOutput(BaseModel):
    """The alert asked for."""

    alert: Alert = Field(description="The alert, from the local mirror or else from NinjaOne.")


class ResetAlertOutput(BaseModel):
    """NinjaOne reset the alert; a mirrored one is marked acknowledged locally too."""

    acknowledged: bool = Field(description="True: NinjaOne accepted the reset.")
    alert_id: str = Field(
        description="The local alert id if the alert is mirrored, else its NinjaOne uid."
    )


# -- wire ---------------------------------------------------------------------------


class WireOs(_Wire):
    name: str | None = None


class WireDevice(_Wire):
    """``Device`` / ``NodeWithDetailedReferences``."""

    id: int
    organization_id: int | None = Field(default=None, alias="organizationId")
    node_class: str | None = Field(default=None, alias="nodeClass")
    display_name: str | None = Field(default=None, alias="displayName")
    system_name: str | None = Field(default=None, alias="systemName")
    dns_name: str | None = Field(default=None, alias="dnsName")
    netbios_name: str | None = Field(default=None, alias="netbiosName")
    offline: bool | None = None
    last_contact: float | None = Field(default=None, alias="lastContact")
    os: WireOs | None = None

    def matches(self, text: str) -> bool:
        """Case-insensitive substring match on the device's names."""
        needle = text.casefold()
        names = (self.system_name, self.display_name, self.dns_name, self.netbios_name)
        return any(needle in name.casefold() for name in names if name)


class WireScript(_Wire):
    type: str | None = None
    id: int | None = None
    uid: str | None = None
    name: str | None = None
    language: str | None = None
    description: str | None = None
    category_id: int | None = Field(default=None, alias="categoryId")


class WireScriptingOptions(_Wire):
    scripts: list[WireScript] = Field(default_factory=list)
    # Older answers listed built-in actions apart from scripts.
    actions: list[WireScript] = Field(default_factory=list)
    built_in_actions: list[WireScript] = Field(default_factory=list, alias="builtInActions")


class WireActivity(_Wire):
    id: int
    activity_time: float | None = Field(default=None, alias="activityTime")
    series_uid: str | None = Field(default=None, alias="seriesUid")
    activity_type: str | None = Field(default=None, alias="activityType")
    status_code: str | None = Field(default=None, alias="statusCode")
    activity_result: str | None = Field(default=None, alias="activityResult")
    source_config_uid: str | None = Field(default=None, alias="sourceConfigUid")
    message: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class WireActivities(_Wire):
    activities: list[WireActivity] = Field(default_factory=list)


class WireAlert(_Wire):
    uid: str
    device_id: int | None = Field(default=None, alias="deviceId")
    message: str | None = None
    create_time: float | None = Field(default=None, alias="createTime")
    update_time: float | None = Field(default=None, alias="updateTime")
    source_type: str | None = Field(default=None, alias="sourceType")
    source_name: str | None = Field(default=None, alias="sourceName")
    subject: str | None = None
    severity: str | None = None
    priority: str | None = None


class WireTokenGrant(_Wire):
    """A successful answer of the token endpoint (values kept out of reprs)."""

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_in: float = Field(default=3600.0, gt=0)
