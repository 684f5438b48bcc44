"""A seeded FakeNinjaOne and the request bodies the NinjaOne tests send.

Shared by ``test_ninjaone.py`` and ``test_ninjaone_contract.py``, so the
contract test checks exactly the bodies the behaviour tests use.
"""

from __future__ import annotations

from typing import Any

from sandbox.ninjaone import FakeNinjaOne

CLIENT_ID = "patchbay-test-client"
CLIENT_SECRET = "s3cr3t-CANARY-client-secret"

WINDOWS, SERVER, MAC, LINUX, SWITCH = 1, 2, 3, 4, 5
SCRIPT_ID = 7
SHELL_SCRIPT_ID = 8
ACTION_UID = "5f0f2a5e-1c2b-4d7e-9a51-0c0ffee00001"
CREDENTIAL_ID = 3
CATEGORY_ID = 2

RUN_SCRIPT_BODIES: list[dict[str, Any]] = [
    {"type": "SCRIPT", "id": SCRIPT_ID},
    {"type": "SCRIPT", "id": SCRIPT_ID, "parameters": "-Days 7", "runAs": "LOGGED_ON_USER"},
    {"type": "ACTION", "uid": ACTION_UID, "runAs": "SYSTEM"},
    {"type": "SCRIPT", "id": SCRIPT_ID, "runAs": str(CREDENTIAL_ID), "parameters": ""},
]
REBOOT_BODIES: list[dict[str, Any]] = [{"reason": "Patch Tuesday"}, {}]
ALERT_RESET_BODIES: list[dict[str, Any]] = [{"note": "Handled by workflow run 42"}]


def seed(fake: FakeNinjaOne) -> None:
    """Two organizations, five devices of different kinds, scripts, an action, alerts."""
    fake.add_client(CLIENT_ID, CLIENT_SECRET)
    fake.add_organization(1, "Contoso")
    fake.add_organization(2, "Fabrikam")
    fake.add_location(10, "HQ")
    fake.add_device("CONTOSO-WS01", location_id=10, tags=["front-desk"])
    fake.add_device(
        "CONTOSO-DC01", node_class="WINDOWS_SERVER", location_id=10, display_name="Domain ctl"
    )
    fake.add_device("Fabrikam-Mac", organization_id=2, node_class="MAC", offline=True)
    fake.add_device("fab-web-01", organization_id=2, node_class="LINUX_SERVER")
    fake.add_device("core-switch", organization_id=2, node_class="NMS_SWITCH")
    fake.add_category("Maintenance", category_id=CATEGORY_ID)
    fake.add_script(
        "Clear temp files",
        script_id=SCRIPT_ID,
        category_id=CATEGORY_ID,
        description="Deletes old temp files",
        output="Removed 12 files",
    )
    fake.add_script(
        "Collect logs",
        script_id=SHELL_SCRIPT_ID,
        language="ShellScript",
        operating_systems=("MAC", "LINUX"),
        output="Archive written",
        result="FAILURE",
        exit_code=2,
    )
    fake.add_action("Flush DNS cache", uid=ACTION_UID, output="DNS cache flushed")
    fake.add_credential("Contoso domain admin", credential_id=CREDENTIAL_ID)
    fake.add_alert(WINDOWS, message="CPU above 90%", uid="0b7d5d8e-4b7c-4c55-9d7e-000000000001")
    fake.add_alert(
        MAC,
        message="Disk almost full",
        source_type="CONDITION_AGENT_DISK_FREE_SPACE",
        source_name="Disk free space",
        uid="0b7d5d8e-4b7c-4c55-9d7e-000000000002",
    )
    fake.add_alert(
        LINUX,
        message="Agent offline",
        source_type="AGENT_OFFLINE",
        source_name="Agent offline",
        uid="0b7d5d8e-4b7c-4c55-9d7e-000000000003",
    )
