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
    """``ninjaone.devices.find``: local mirror by default, the vendor with ``live``."""

    device_id: DeviceId | None = None
    asset_id: Uuid | None = Field(
        default=None, description="A local asset; matches the device it mirrors."
    )
    query: SearchText | None = Field(
        default=None,
        description="Free text matched against names (host, display, DNS); not a device filter.",
    )
    live: bool = Field(default=False, description="Ask NinjaOne instead of the local mirror.")
    limit: int = Field(default=50, ge=1, le=200)


class DeviceInput(StrictInput):
    """An action on one device."""

    device_id: DeviceId


class RebootDeviceInput(StrictInput):
    """``ninjaone.devices.reboot``."""

    device_id: DeviceId
    mode: Literal["NORMAL", "FORCED"] = Field(
        default="NORMAL", description="FORCED reboots even if users are logged on."
    )
    reason: Annotated[str, StringConstraints(max_length=1000), StripBlank] | None = None


class RunScriptInput(StrictInput):
    """``ninjaone.devices.run_script``: a custom script (by id) or a built-in action (by uid)."""

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
    type: Literal["SCRIPT", "ACTION"] = "SCRIPT"
    script_id: int | None = Field(
        default=None,
        gt=0,
        le=MAX_INT32,
        validate_default=True,
        description="Required when type is SCRIPT.",
    )
    action_uid: Uuid | None = Field(
        default=None, validate_default=True, description="Required when type is ACTION."
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
    """``ninjaone.alerts.list_active``."""

    limit: int = Field(default=50, ge=1, le=200)
    live: bool = Field(default=False, description="Ask NinjaOne instead of the local mirror.")


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

    external_alert_id: AlertUid | None = Field(default=None, description="The NinjaOne alert uid.")
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


class Device(BaseModel):
    """A device, from the local mirror (``source: local``) or from NinjaOne."""

    external_device_id: str
    asset_id: uuid.UUID | None
    organization_id: str | None
    hostname: str | None
    display_name: str | None
    dns_name: str | None
    agent_online: bool | None = Field(description="None when the vendor does not say.")
    last_seen_at: datetime | None
    os_name: str | None
    node_class: str | None
    source: Literal["local", "ninjaone"]


class FindDevicesOutput(BaseModel):
    devices: list[Device]
    count: int


class SyncDeviceOutput(BaseModel):
    synced: bool
    external_device_id: str
    asset_id: uuid.UUID | None


class RebootDeviceOutput(BaseModel):
    reboot_requested: bool
    external_device_id: str


class ScriptOption(BaseModel):
    """A script (``type: SCRIPT``, run by ``id``) or built-in action (``ACTION``, by ``uid``)."""

    id: int | None
    uid: str | None
    name: str | None
    type: str
    language: str | None = None
    description: str | None = None
    category_id: int | None = None


class ScriptingOptionsOutput(BaseModel):
    scripts: list[ScriptOption]
    count: int


class RunScriptOutput(BaseModel):
    """The run request, and with ``wait_for_result`` the outcome NinjaOne reported."""

    run_requested: bool
    external_device_id: str
    vendor_response: dict[str, Any] | None = None
    completed: bool = False
    result: str | None = Field(default=None, description="SUCCESS or FAILURE, when completed.")
    output: str | None = None
    exit_code: int | None = None
    series_uid: str | None = None
    completed_at: datetime | None = None


class Alert(BaseModel):
    """An alert, from the local mirror or NinjaOne (there ``alert_id`` is the vendor uid)."""

    alert_id: str
    external_alert_id: str
    status: str
    severity: str | None
    priority: str | None
    title: str | None
    message: str | None
    device_id: str | None
    asset_id: uuid.UUID | None
    source_type: str | None
    created_at: datetime | None
    updated_at: datetime | None
    acknowledged: bool


class ListAlertsOutput(BaseModel):
    alerts: list[Alert]
    count: int


class GetAlertOutput(BaseModel):
    alert: Alert


class ResetAlertOutput(BaseModel):
    acknowledged: bool
    alert_id: str


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
