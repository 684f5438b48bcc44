"""Every NinjaOne action's happy path and named failures, through the pipeline, in-process."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from executor.pipeline import Reschedule
from sandbox.core import Fault
from store.models import Asset, RmmAlert, RmmIntegration
from tests.integrations.ninjaone.conftest import (
    TENANT,
    NinjaHarness,
    rejection_of,
)

SERVER, LAPTOP, MAC = 1, 2, 3
CLEAR_TEMP, COLLECT_LOGS = 1, 2


def at(epoch: float) -> str:
    """How an output carries an epoch-seconds instant."""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def add_asset(ninja: NinjaHarness, name: str, device_id: str | None, **fields: Any) -> uuid.UUID:
    asset_id = uuid.uuid4()
    with ninja.store.sessions.begin() as session:
        session.add(
            Asset(
                tenant=TENANT,
                asset_id=asset_id,
                name=name,
                rmm_provider=fields.pop("rmm_provider", "ninjaone"),
                rmm_device_id=device_id,
                **fields,
            )
        )
    return asset_id


def integration_id(ninja: NinjaHarness) -> uuid.UUID:
    with ninja.store.sessions() as session:
        found = session.scalar(
            select(RmmIntegration.integration_id).where(RmmIntegration.tenant == TENANT)
        )
    assert found is not None
    return found


def add_local_alert(
    ninja: NinjaHarness, external_id: str, *, status: str = "active", minutes_ago: int = 0
) -> uuid.UUID:
    alert_id = uuid.uuid4()
    with ninja.store.sessions.begin() as session:
        session.add(
            RmmAlert(
                tenant=TENANT,
                alert_id=alert_id,
                integration_id=integration_id(ninja),
                external_alert_id=external_id,
                external_device_id=str(SERVER),
                status=status,
                severity="CRITICAL",
                message=f"alert {external_id}",
                source_type="CONDITION_AGENT_CPU",
                source_data={"sourceName": "CPU Utilization"},
                triggered_at=ninja.clock() - timedelta(minutes=minutes_ago),
            )
        )
    return alert_id


def local_alert_status(ninja: NinjaHarness, alert_id: uuid.UUID) -> str:
    with ninja.store.sessions() as session:
        row = session.get(RmmAlert, (TENANT, alert_id))
        assert row is not None
        return row.status


# -- devices.find -------------------------------------------------------------------


def test_find_reads_the_local_mirror_without_calling_the_vendor(ninja: NinjaHarness) -> None:
    dc = add_asset(ninja, "CONTOSO-DC01", "1", agent_status="online", asset_tag="TAG-100")
    add_asset(ninja, "contoso-lt042", "2", agent_status="offline", serial_number="SN-DC-9")
    add_asset(ninja, "Printer", "77")
    add_asset(ninja, "DC from another RMM", "5", rmm_provider="tacticalrmm")
    add_asset(ninja, "Unlinked DC", None)

    everything = ninja.ok("devices.find", {})
    assert [d["hostname"] for d in everything["devices"]] == [
        "CONTOSO-DC01",
        "contoso-lt042",
        "Printer",
    ]
    assert everything["count"] == 3
    assert {d["source"] for d in everything["devices"]} == {"local"}
    # Free text matches name, asset tag and serial number, case-insensitively.
    by_text = ninja.ok("devices.find", {"query": "  dc  "})
    assert [d["external_device_id"] for d in by_text["devices"]] == ["1", "2"]
    assert ninja.ok("devices.find", {"query": "tag-1"})["devices"][0]["asset_id"] == str(dc)
    assert ninja.ok("devices.find", {"query": "%"})["count"] == 0
    one = ninja.ok("devices.find", {"device_id": 2})["devices"]
    assert [(d["external_device_id"], d["agent_online"]) for d in one] == [("2", False)]
    assert ninja.ok("devices.find", {"asset_id": str(dc)})["devices"][0]["agent_online"] is True
    assert ninja.ok("devices.find", {"limit": 2})["count"] == 2
    assert ninja.fake.count() == 0


def test_live_find_maps_the_vendor_device_with_epoch_second_timestamps(
    ninja: NinjaHarness,
) -> None:
    mirrored = add_asset(ninja, "old name", str(LAPTOP))
    found = ninja.ok("devices.find", {"live": True})
    by_id = {d["external_device_id"]: d for d in found["devices"]}
    assert found["count"] == 3
    laptop = by_id[str(LAPTOP)]
    assert laptop == {
        "external_device_id": "2",
        "asset_id": str(mirrored),
        "organization_id": "1",
        "hostname": "CONTOSO-LT042",
        "display_name": "Front desk laptop",
        "dns_name": "contoso-lt042",
        "agent_online": True,
        # The fake saw the agent 30 s ago, in epoch seconds: not a date in 1970.
        "last_seen_at": at(ninja.now - 30),
        "os_name": "Windows 11 Pro Edition",
        "node_class": "WINDOWS_WORKSTATION",
        "source": "ninjaone",
    }
    assert by_id[str(MAC)]["agent_online"] is False
    assert by_id[str(MAC)]["last_seen_at"] == at(ninja.now - 3600)


def test_live_find_respects_limit_and_stops_paging(ninja: NinjaHarness) -> None:
    for n in range(10):
        ninja.fake.add_device(f"LAB-{n:02d}", display_name=f"Lab PC {n}")
    first_two = ninja.ok("devices.find", {"live": True, "limit": 2})
    assert [d["external_device_id"] for d in first_two["devices"]] == ["1", "2"]
    calls = ninja.fake.calls("GET", "/v2/devices-detailed")
    assert [c.query["pageSize"] for c in calls] == [["2"]]

    ninja.fake.reset()
    labs = ninja.ok("devices.find", {"live": True, "query": "lab pc", "limit": 4})
    assert [d["hostname"] for d in labs["devices"]] == ["LAB-00", "LAB-01", "LAB-02", "LAB-03"]
    assert ninja.fake.count("GET", "/v2/devices-detailed") == 1


def test_live_find_pages_with_after_until_enough_match(ninja: NinjaHarness) -> None:
    for n in range(450):
        ninja.fake.add_device(f"HOST-{n:03d}", display_name="Kiosk" if n % 100 == 99 else None)
    kiosks = ninja.ok("devices.find", {"live": True, "query": "KIOSK", "limit": 3})
    assert kiosks["count"] == 3
    calls = ninja.fake.calls("GET", "/v2/devices-detailed")
    # Page 1 holds devices 1..200, page 2 up to 400 (kiosks at 103, 203, 303).
    assert [c.query.get("after") for c in calls] == [None, ["200"]]
    assert all("df" not in c.query for c in calls)


def test_free_text_is_never_sent_as_a_device_filter(ninja: NinjaHarness) -> None:
    found = ninja.ok("devices.find", {"live": True, "query": "front desk"})
    assert [d["display_name"] for d in found["devices"]] == ["Front desk laptop"]
    assert all("df" not in c.query for c in ninja.fake.calls("GET"))


def test_live_find_by_id_and_by_asset(ninja: NinjaHarness) -> None:
    by_id = ninja.ok("devices.find", {"live": True, "device_id": SERVER})["devices"]
    assert [d["hostname"] for d in by_id] == ["CONTOSO-DC01"]
    assert ninja.ok("devices.find", {"live": True, "device_id": 999})["count"] == 0
    mac_asset = add_asset(ninja, "mac", str(MAC))
    by_asset = ninja.ok("devices.find", {"live": True, "asset_id": str(mac_asset)})["devices"]
    assert [(d["hostname"], d["asset_id"]) for d in by_asset] == [("Dr-Mac-Mini", str(mac_asset))]
    assert ninja.fake.count("GET", "/v2/devices-detailed") == 0


def test_an_asset_without_a_local_match_lists_nothing(ninja: NinjaHarness) -> None:
    found = ninja.ok("devices.find", {"live": True, "asset_id": str(uuid.uuid4())})
    assert found == {"devices": [], "count": 0, "source": "ninjaone"}
    assert ninja.fake.count() == 0


def test_agent_online_is_unknown_when_the_vendor_does_not_say(ninja: NinjaHarness) -> None:
    ninja.fake.inject(
        Fault(status=200, body={"id": SERVER, "systemName": "CONTOSO-DC01", "someNewField": 1}),
        path=f"/v2/device/{SERVER}",
    )
    device = ninja.ok("devices.find", {"live": True, "device_id": SERVER})["devices"][0]
    assert device["agent_online"] is None
    assert device["last_seen_at"] is None
    assert device["display_name"] == "CONTOSO-DC01"


# -- devices.sync -------------------------------------------------------------------


def test_sync_upserts_exactly_one_asset_per_device(ninja: NinjaHarness) -> None:
    first = ninja.ok("devices.sync", {"device_id": LAPTOP})
    assert first["synced"] is True
    assert first["external_device_id"] == "2"
    with ninja.store.sessions.begin() as session:
        asset = session.get(Asset, (TENANT, uuid.UUID(first["asset_id"])))
        assert asset is not None
        assert (asset.name, asset.agent_status, asset.asset_type) == (
            "Front desk laptop",
            "online",
            "workstation",
        )
        assert asset.last_seen_at == datetime.fromtimestamp(ninja.now - 30, UTC)
        assert asset.attributes["os_name"] == "Windows 11 Pro Edition"
        asset.attributes = {**asset.attributes, "owner": "front desk"}

    ninja.fake_clock.advance(60)
    ninja.fake.inject(
        Fault(
            status=200,
            body={"id": LAPTOP, "displayName": "Reception laptop", "offline": True},
        ),
        path=f"/v2/device/{LAPTOP}",
    )
    second = ninja.ok("devices.sync", {"device_id": LAPTOP})
    assert second["asset_id"] == first["asset_id"]
    with ninja.store.sessions() as session:
        rows = session.scalars(select(Asset).where(Asset.rmm_device_id == "2")).all()
        assert len(rows) == 1
        assert (rows[0].name, rows[0].agent_status) == ("Reception laptop", "offline")
        # Local attributes survive a sync; the vendor's are refreshed.
        assert rows[0].attributes["owner"] == "front desk"
        assert rows[0].attributes["display_name"] == "Reception laptop"


def test_sync_of_an_unknown_device_is_not_found(ninja: NinjaHarness) -> None:
    error = ninja.error("devices.sync", {"device_id": 999})
    assert error["code"] == "NOT_FOUND"
    assert error["vendor"] == {"status": 404, "message": "Device 999 not found"}
    with ninja.store.sessions() as session:
        assert session.scalars(select(Asset)).all() == []


# -- devices.reboot -----------------------------------------------------------------


def test_reboot_uses_the_vendor_path_with_mode_and_reason(ninja: NinjaHarness) -> None:
    assert ninja.ok("devices.reboot", {"device_id": SERVER}) == {
        "reboot_requested": True,
        "external_device_id": "1",
    }
    ninja.ok("devices.reboot", {"device_id": LAPTOP, "mode": "FORCED", "reason": "patches"})
    assert [(r.device_id, r.mode, r.reason) for r in ninja.fake.reboots] == [
        (SERVER, "NORMAL", None),
        (LAPTOP, "FORCED", "patches"),
    ]
    assert [c.path for c in ninja.fake.calls("POST")] == [
        "/v2/device/1/reboot/NORMAL",
        "/v2/device/2/reboot/FORCED",
    ]


# -- devices.scripting_options ------------------------------------------------------


def test_scripting_options_lists_scripts_and_built_in_actions(ninja: NinjaHarness) -> None:
    options = ninja.ok("devices.scripting_options", {"device_id": SERVER})
    assert options["count"] == 2
    assert [(s["type"], s["id"], s["uid"], s["name"]) for s in options["scripts"]] == [
        ("SCRIPT", CLEAR_TEMP, None, "Clear temp files"),
        ("ACTION", None, ninja.demo["action_uids"][0], "Flush DNS cache"),
    ]
    assert options["scripts"][0]["language"] == "PowerShell"
    mac = ninja.ok("devices.scripting_options", {"device_id": MAC})
    assert [s["name"] for s in mac["scripts"]] == ["Collect system logs", "Flush DNS cache"]


# -- devices.run_script (no waiting; waiting is in test_run_script.py) ---------------


def test_run_script_sends_type_id_parameters_and_run_as(ninja: NinjaHarness) -> None:
    out = ninja.ok(
        "devices.run_script",
        {"device_id": SERVER, "script_id": CLEAR_TEMP, "parameters": "-Days 7", "run_as": "SYSTEM"},
    )
    assert out["run_requested"] is True
    assert out["completed"] is False
    assert out["vendor_response"] is None
    (run,) = ninja.fake.script_runs
    assert (run.device_id, run.type, run.script_id, run.parameters, run.run_as) == (
        SERVER,
        "SCRIPT",
        CLEAR_TEMP,
        "-Days 7",
        "SYSTEM",
    )
    assert ninja.fake.calls("POST")[0].body == {
        "type": "SCRIPT",
        "id": CLEAR_TEMP,
        "parameters": "-Days 7",
        "runAs": "SYSTEM",
    }


def test_run_script_runs_a_built_in_action_by_uid(ninja: NinjaHarness) -> None:
    uid = ninja.demo["action_uids"][0]
    ninja.ok(
        "devices.run_script",
        {"device_id": MAC, "type": "ACTION", "action_uid": uid, "run_as": "LOGGED_ON_USER"},
    )
    (run,) = ninja.fake.script_runs
    assert (run.type, run.action_uid, run.run_as) == ("ACTION", uid, "LOGGED_ON_USER")


def test_run_script_accepts_a_stored_credential_as_run_as(ninja: NinjaHarness) -> None:
    credential = ninja.fake.add_credential("Domain admin (vault)")
    ninja.ok(
        "devices.run_script",
        {"device_id": SERVER, "script_id": CLEAR_TEMP, "run_as": str(credential["id"])},
    )
    assert ninja.fake.script_runs[0].run_as == str(credential["id"])


@pytest.mark.parametrize(
    ("bad", "field", "text"),
    [
        ({"device_id": SERVER}, "script_id", "script_id is required when type is SCRIPT"),
        (
            {"device_id": SERVER, "type": "ACTION", "script_id": 1},
            "action_uid",
            "action_uid is required when type is ACTION",
        ),
        ({"device_id": SERVER, "script_id": 1, "run_as": "root"}, "run_as", "LOGGED_ON_USER"),
        ({"device_id": SERVER, "script_id": 1, "run_as": "system"}, "run_as", "SYSTEM"),
        ({"device_id": SERVER, "script_id": 1, "parameters": "x" * 30_001}, "parameters", "30000"),
        ({"device_id": SERVER, "script_id": 1, "type": "PROGRAM"}, "type", "SCRIPT"),
        ({"device_id": 0, "script_id": 1}, "device_id", "greater than 0"),
        ({"device_id": SERVER, "script_id": 1, "runAs": "SYSTEM"}, "runAs", "not permitted"),
    ],
)
def test_run_script_input_errors_name_the_field_and_send_nothing(
    ninja: NinjaHarness, bad: dict[str, Any], field: str, text: str
) -> None:
    error = rejection_of(ninja.pipeline().execute(ninja.task("devices.run_script", bad)))
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == field
    assert text in error["message"]
    assert ninja.fake.count() == 0


def test_parameters_of_exactly_the_vendor_limit_are_accepted(ninja: NinjaHarness) -> None:
    ninja.ok(
        "devices.run_script",
        {"device_id": SERVER, "script_id": CLEAR_TEMP, "parameters": "p" * 30_000},
    )
    assert len(ninja.fake.script_runs[0].parameters or "") == 30_000


def test_a_vendor_refusal_surfaces_status_and_message(ninja: NinjaHarness) -> None:
    error = ninja.error("devices.run_script", {"device_id": SERVER, "script_id": COLLECT_LOGS})
    assert error["code"] == "VENDOR_ERROR"
    assert error["retryable"] is False
    assert error["vendor"] == {
        "status": 400,
        "message": "Collect system logs is not available for device 1",
    }
    assert "400" in error["message"] and "Collect system logs" in error["message"]
    dumped = json.dumps(error)
    for value in ninja.credentials().values():
        assert str(value) not in dumped


def test_a_client_credentials_token_cannot_run_scripts(ninja: NinjaHarness) -> None:
    ninja.store_tokens(user_id=None)
    error = ninja.error("devices.run_script", {"device_id": SERVER, "script_id": CLEAR_TEMP})
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert "authorization-code" in error["message"]
    assert "offline_access" in error["message"]
    assert error["vendor"]["status"] == 403
    assert ninja.fake.script_runs == []


# -- alerts -------------------------------------------------------------------------


def test_list_active_alerts_from_the_local_mirror(ninja: NinjaHarness) -> None:
    older = add_local_alert(ninja, "uid-older", minutes_ago=30)
    newer = add_local_alert(ninja, "uid-newer", minutes_ago=1)
    add_local_alert(ninja, "uid-done", status="acknowledged")
    listed = ninja.ok("alerts.list_active", {})
    assert [a["alert_id"] for a in listed["alerts"]] == [str(newer), str(older)]
    first = listed["alerts"][0]
    assert first["external_alert_id"] == "uid-newer"
    assert (first["title"], first["severity"], first["acknowledged"]) == (
        "CPU Utilization",
        "CRITICAL",
        False,
    )
    assert ninja.ok("alerts.list_active", {"limit": 1})["count"] == 1
    assert ninja.fake.count() == 0


def test_list_active_alerts_live_with_limit(ninja: NinjaHarness) -> None:
    ninja.fake_clock.advance(120)
    newest = ninja.fake.add_alert(LAPTOP, message="Agent offline", source_type="AGENT_OFFLINE")
    listed = ninja.ok("alerts.list_active", {"live": True, "limit": 2})
    assert listed["count"] == 2
    first = listed["alerts"][0]
    assert first["alert_id"] == first["external_alert_id"] == newest["uid"]
    assert first["created_at"] == at(ninja.now)
    assert (first["device_id"], first["status"], first["message"]) == (
        "2",
        "active",
        "Agent offline",
    )
    assert ninja.fake.count("GET", "/v2/alerts") == 1


def test_get_alert_local_then_live_then_not_found(ninja: NinjaHarness) -> None:
    cpu_uid = ninja.demo["alert_uids"][0]
    local = add_local_alert(ninja, cpu_uid)
    by_local_id = ninja.ok("alerts.get", {"alert_uid": str(local)})["alert"]
    assert by_local_id["external_alert_id"] == cpu_uid
    by_external = ninja.ok("alerts.get", {"external_alert_id": cpu_uid})["alert"]
    assert by_external["alert_id"] == str(local)
    assert ninja.fake.count() == 0

    disk_uid = ninja.demo["alert_uids"][1]
    live = ninja.ok("alerts.get", {"alert_uid": disk_uid})["alert"]
    assert (live["alert_id"], live["title"], live["device_id"]) == (
        disk_uid,
        "Disk free space",
        "2",
    )
    missing = ninja.error("alerts.get", {"external_alert_id": str(uuid.uuid4())})
    assert missing["code"] == "NOT_FOUND"
    assert "Alert not found" in missing["message"]


def test_get_alert_needs_one_reference(ninja: NinjaHarness) -> None:
    payload = rejection_of(ninja.pipeline().execute(ninja.task("alerts.get", {})))
    assert payload["code"] == "VALIDATION_ERROR"
    assert payload["details"]["field"] == "alert_uid"
    assert "alert_uid or external_alert_id is required" in payload["message"]


def test_reset_acknowledges_at_the_vendor_then_in_the_mirror(ninja: NinjaHarness) -> None:
    cpu_uid = ninja.demo["alert_uids"][0]
    local = add_local_alert(ninja, cpu_uid)
    ninja.fake_clock.advance(5)
    out = ninja.ok("alerts.reset", {"alert_uid": str(local)})
    assert out == {"acknowledged": True, "alert_id": str(local)}
    assert [r.uid for r in ninja.fake.alert_resets] == [cpu_uid]
    assert ninja.fake.calls("POST")[0].path == f"/v2/alert/{cpu_uid}/reset"
    with ninja.store.sessions() as session:
        row = session.get(RmmAlert, (TENANT, local))
        assert row is not None
        assert row.status == "acknowledged"
        assert row.updated_at == ninja.clock()
    assert ninja.ok("alerts.get", {"alert_uid": str(local)})["alert"]["acknowledged"] is True

    # An alert only NinjaOne knows is reset by its uid.
    disk_uid = ninja.demo["alert_uids"][1]
    assert ninja.ok("alerts.reset", {"external_alert_id": disk_uid}) == {
        "acknowledged": True,
        "alert_id": disk_uid,
    }
    assert ninja.fake.active_alerts() == []


def test_a_failed_reset_leaves_the_mirror_untouched(ninja: NinjaHarness) -> None:
    local = add_local_alert(ninja, str(uuid.uuid4()))  # NinjaOne never heard of it
    error = ninja.error("alerts.reset", {"alert_uid": str(local)})
    assert error["code"] == "NOT_FOUND"
    assert error["vendor"]["status"] == 404
    assert local_alert_status(ninja, local) == "active"


def test_a_reset_answered_500_after_ninjaone_acted_is_settled_by_the_read_back(
    ninja: NinjaHarness,
) -> None:
    cpu_uid = ninja.demo["alert_uids"][0]
    local = add_local_alert(ninja, cpu_uid)
    ninja.fake.inject(
        Fault(status=500, body={"resultCode": "SERVER_ERROR"}, after=True),
        method="POST",
        path=f"/v2/alert/{cpu_uid}/reset",
    )
    out = ninja.ok("alerts.reset", {"alert_uid": str(local)})
    assert out == {"acknowledged": True, "alert_id": str(local)}
    assert [r.uid for r in ninja.fake.alert_resets] == [cpu_uid]  # reset once, never again
    assert len(ninja.fake.calls("POST")) == 1
    assert local_alert_status(ninja, local) == "acknowledged"


def test_a_reset_lost_before_ninjaone_acted_is_retried(ninja: NinjaHarness) -> None:
    cpu_uid = ninja.demo["alert_uids"][0]
    local = add_local_alert(ninja, cpu_uid)
    ninja.fake.inject(
        Fault(status=502, disconnect=True), method="POST", path=f"/v2/alert/{cpu_uid}/reset"
    )
    first = ninja.run("alerts.reset", {"alert_uid": str(local)}, key="reset-retry")
    assert isinstance(first, Reschedule)
    assert first.reason == "retry"  # the alert is still active: the reset did not happen
    assert local_alert_status(ninja, local) == "active"
    ninja.clock.advance(first.countdown + 1)
    out = ninja.ok("alerts.reset", {"alert_uid": str(local)}, key="reset-retry")
    assert out["acknowledged"] is True
    assert [r.uid for r in ninja.fake.alert_resets] == [cpu_uid]
    assert local_alert_status(ninja, local) == "acknowledged"


def test_a_reboot_answered_500_is_outcome_unknown_and_not_sent_again(ninja: NinjaHarness) -> None:
    ninja.fake.inject(Fault(status=500, after=True), method="POST")
    error = ninja.error("devices.reboot", {"device_id": SERVER})
    assert error["code"] == "OUTCOME_UNKNOWN"
    assert len(ninja.fake.calls("POST")) == 1


# -- connection problems ------------------------------------------------------------


def test_a_disconnected_tenant_is_inactive_and_nothing_is_sent(ninja: NinjaHarness) -> None:
    with ninja.store.sessions.begin() as session:
        session.execute(update(RmmIntegration).values(is_active=False))
    steps: list[tuple[str, dict[str, Any]]] = [
        ("devices.find", {}),
        ("devices.reboot", {"device_id": SERVER}),
        ("alerts.list_active", {"live": True}),
    ]
    for action, args in steps:
        error = ninja.error(action, args)
        assert error["code"] == "INTEGRATION_INACTIVE"
        assert "NinjaOne integration is not active for this tenant" in error["message"]
    assert ninja.fake.count() == 0


@pytest.mark.parametrize("missing", ["ninjaone_client_id", "ninjaone_client_secret"])
def test_missing_client_secrets_are_named(ninja: NinjaHarness, missing: str) -> None:
    ninja.delete_secret(missing)
    error = ninja.error("devices.reboot", {"device_id": SERVER})
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert missing in error["message"]
    assert error["details"]["missing"] == missing
    assert ninja.fake.reboots == []


def test_missing_credentials_are_named_and_local_reads_still_work(ninja: NinjaHarness) -> None:
    ninja.delete_secret("ninjaone_credentials")
    error = ninja.error("devices.find", {"live": True})
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert "ninjaone_credentials" in error["message"]
    assert "ninjaone_refresh_token" in error["message"]
    assert ninja.ok("devices.find", {})["count"] == 0
    assert ninja.fake.count() == 0


def test_malformed_credentials_are_reported_without_quoting_them(ninja: NinjaHarness) -> None:
    ninja.set_secret("ninjaone_credentials", "not-json-but-a-long-secret-looking-value")
    error = ninja.error("devices.find", {"live": True})
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert "ninjaone_credentials" in error["message"]
    assert "secret-looking" not in json.dumps(error)


def test_a_missing_instance_url_means_the_main_instance(ninja: NinjaHarness) -> None:
    with ninja.store.sessions.begin() as session:
        session.execute(update(RmmIntegration).values(instance_url=None))
    ninja.ok("devices.reboot", {"device_id": SERVER})
    assert ninja.fake.reboots[0].device_id == SERVER
    assert ninja.fake.calls("POST")[0].headers["host"] == "app.ninjarmm.com"
