"""The Level read actions against FakeLevel over loopback HTTP, through the pipeline.

Happy paths of ``devices.find`` (mirror and live), ``devices.get``,
``alerts.list_active`` (mirror and live), ``updates.list``,
``automations.list`` and ``automations.run_status``; cursor paging that asks
for no more than it needs and stops at ``limit``; a webhook list longer
than one page (and served as a bare array); an unknown device or run.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from store.models import Asset, RmmAlert, RmmIntegration
from tests.integrations.levelio.conftest import TENANT, LevelHarness

DC01, LT042, MAC, NAS = range(4)
CONTOSO, MAIN_OFFICE, FRONT_DESK, FABRIKAM = range(4)


def add_asset(level: LevelHarness, name: str, device_id: str, **fields: Any) -> uuid.UUID:
    asset_id = uuid.uuid4()
    with level.store.sessions.begin() as session:
        session.add(
            Asset(
                tenant=TENANT,
                asset_id=asset_id,
                name=name,
                rmm_provider=fields.pop("rmm_provider", "levelio"),
                rmm_device_id=device_id,
                **fields,
            )
        )
    return asset_id


def integration_id(level: LevelHarness) -> uuid.UUID:
    with level.store.sessions() as session:
        return session.scalars(
            select(RmmIntegration.integration_id).where(RmmIntegration.provider == "levelio")
        ).one()


def add_mirrored_alert(level: LevelHarness, external_id: str, **fields: Any) -> uuid.UUID:
    alert_id = uuid.uuid4()
    with level.store.sessions.begin() as session:
        session.add(
            RmmAlert(
                tenant=TENANT,
                alert_id=alert_id,
                integration_id=integration_id(level),
                external_alert_id=external_id,
                **fields,
            )
        )
    return alert_id


def queries(level: LevelHarness, path: str) -> list[dict[str, list[str]]]:
    return [r.query for r in level.fake.calls("GET", path)]


# -- devices.find -------------------------------------------------------------------------


def test_find_reads_the_local_mirror_without_calling_level(level: LevelHarness) -> None:
    dc = add_asset(
        level,
        "CONTOSO-DC01",
        level.device_id(DC01),
        serial_number="CZ2049XK",
        agent_status="online",
        rmm_organization_id=level.seed["group_ids"][MAIN_OFFICE],
        attributes={"os_name": "Windows Server 2022", "platform": "Windows"},
    )
    add_asset(
        level,
        "fabrikam-nas",
        level.device_id(NAS),
        rmm_organization_id=level.seed["group_ids"][FABRIKAM],
    )
    add_asset(level, "ninja box", "77", rmm_provider="ninjaone")
    out = level.ok("devices.find", {"query": "cz2049"})
    assert out == {
        "devices": [
            {
                "device_id": level.device_id(DC01),
                "asset_id": str(dc),
                "hostname": "CONTOSO-DC01",
                "nickname": None,
                "group_id": level.seed["group_ids"][MAIN_OFFICE],
                "online": True,
                "platform": "Windows",
                "os_name": "Windows Server 2022",
                "serial_number": "CZ2049XK",
                "last_seen_at": None,
                "security_score": None,
                "source": "local",
            }
        ],
        "count": 1,
    }
    by_group = level.ok("devices.find", {"group_id": level.seed["group_ids"][FABRIKAM]})
    assert [d["hostname"] for d in by_group["devices"]] == ["fabrikam-nas"]
    everything = level.ok("devices.find", {})
    assert [d["hostname"] for d in everything["devices"]] == ["CONTOSO-DC01", "fabrikam-nas"]
    assert level.fake.count() == 0


def test_find_live_by_device_id_reads_the_device(level: LevelHarness) -> None:
    dc = add_asset(level, "CONTOSO-DC01", level.device_id(DC01))
    out = level.ok("devices.find", {"live": True, "device_id": level.device_id(DC01)})
    [device] = out["devices"]
    assert device["device_id"] == level.device_id(DC01)
    assert device["asset_id"] == str(dc)
    assert device["hostname"] == "CONTOSO-DC01"
    assert device["os_name"] == "Microsoft Windows Server 2022 Standard 21H2"
    assert device["online"] is True
    assert device["security_score"] == 91
    assert device["platform"] == "Windows"
    assert device["source"] == "levelio"
    assert datetime.fromisoformat(device["last_seen_at"]) == level.clock()
    [request] = level.fake.requests
    assert request.path == f"/v2/devices/{level.device_id(DC01)}"
    assert request.headers["authorization"] == level.secret("levelio_api_key")
    assert request.headers["accept"] == "application/json"
    assert "content-type" not in request.headers


def test_find_live_with_an_unknown_device_id_finds_nothing(level: LevelHarness) -> None:
    assert level.ok("devices.find", {"live": True, "device_id": "dev_404"}) == {
        "devices": [],
        "count": 0,
    }


def test_find_live_lists_a_group_directly_and_filters_hostnames(level: LevelHarness) -> None:
    contoso = level.seed["group_ids"][CONTOSO]
    out = level.ok("devices.find", {"live": True, "group_id": contoso})
    # group_id matches direct members only: the Mac, not the devices in groups below.
    assert [d["hostname"] for d in out["devices"]] == ["Dr-Mac-Mini"]
    assert out["devices"][0]["online"] is False
    assert queries(level, "/v2/devices")[0]["group_id"] == [contoso]
    out = level.ok("devices.find", {"live": True, "query": "contoso"})
    assert [d["hostname"] for d in out["devices"]] == ["CONTOSO-DC01", "CONTOSO-LT042"]


def test_live_paging_asks_for_no_more_than_it_needs_and_stops_at_limit(
    level: LevelHarness,
) -> None:
    group = level.seed["group_ids"][FABRIKAM]
    for i in range(260):
        level.fake.add_device(f"bulk-{i:03d}", group_id=group)
    level.fake.reset()
    out = level.ok("devices.find", {"live": True, "limit": 150})
    assert out["count"] == 150
    assert [q["limit"] for q in queries(level, "/v2/devices")] == [["100"], ["50"]]
    assert "starting_after" not in queries(level, "/v2/devices")[0]
    level.fake.reset()
    assert level.ok("devices.find", {"live": True, "limit": 7})["count"] == 7
    assert [q["limit"] for q in queries(level, "/v2/devices")] == [["7"]]
    # A hostname filter Level cannot apply reads full pages until enough match.
    level.fake.reset()
    out = level.ok("devices.find", {"live": True, "query": "BULK-2", "limit": 5})
    assert [d["hostname"] for d in out["devices"]] == [f"bulk-2{i:02d}" for i in range(5)]
    assert [q["limit"] for q in queries(level, "/v2/devices")] == [["100"], ["100"], ["100"]]


def test_live_find_through_an_asset_uses_the_device_it_mirrors(level: LevelHarness) -> None:
    asset = add_asset(level, "the laptop", level.device_id(LT042))
    out = level.ok("devices.find", {"live": True, "asset_id": str(asset)})
    assert [d["hostname"] for d in out["devices"]] == ["CONTOSO-LT042"]
    unknown = level.ok("devices.find", {"live": True, "asset_id": str(uuid.uuid4())})
    assert unknown["count"] == 0


# -- devices.get --------------------------------------------------------------------------


def test_get_returns_the_device_with_its_os_and_security_details(level: LevelHarness) -> None:
    out = level.ok("devices.get", {"device_id": level.device_id(LT042)})
    assert out["device"]["hostname"] == "CONTOSO-LT042"
    assert out["device"]["nickname"] == "Front desk laptop"
    assert out["device"]["os_name"] == "Microsoft Windows 11 Pro 23H2"
    assert out["operating_system"]["version"] == "10.0.22631"
    assert out["security"]["pending_reboot"] is True
    [request] = level.fake.requests
    assert request.query == {"include_operating_system": ["true"], "include_security": ["true"]}


def test_get_an_unknown_device_is_not_found(level: LevelHarness) -> None:
    error = level.error("devices.get", {"device_id": "dev_404"})
    assert error["code"] == "NOT_FOUND"
    assert error["retryable"] is False
    assert error["vendor"] == {"status": 404, "message": "Device not found"}
    assert "dev_404" in error["message"]


# -- alerts.list_active ---------------------------------------------------------------------


def test_active_alerts_from_the_mirror_newest_first(level: LevelHarness) -> None:
    old = datetime.fromisoformat("2026-11-27T08:00:00+00:00")
    new = datetime.fromisoformat("2026-11-28T09:00:00+00:00")
    add_mirrored_alert(
        level,
        "alr_1",
        external_device_id=level.device_id(DC01),
        severity="critical",
        status="active",
        activity_type="CPU usage",
        message="CPU usage >90.0% for 15 minutes",
        triggered_at=old,
        source_data={"device_hostname": "CONTOSO-DC01", "name": "CPU usage"},
    )
    add_mirrored_alert(
        level, "alr_2", external_device_id=level.device_id(LT042), status="active", triggered_at=new
    )
    add_mirrored_alert(level, "alr_3", status="resolved", triggered_at=new)
    out = level.ok("alerts.list_active", {})
    assert [a["alert_id"] for a in out["alerts"]] == ["alr_2", "alr_1"]
    assert out["alerts"][1] == {
        "alert_id": "alr_1",
        "device_id": level.device_id(DC01),
        "device_hostname": "CONTOSO-DC01",
        "name": "CPU usage",
        "description": "CPU usage >90.0% for 15 minutes",
        "severity": "critical",
        "is_resolved": False,
        "started_at": "2026-11-27T08:00:00Z",
        "resolved_at": None,
    }
    one = level.ok("alerts.list_active", {"device_id": level.device_id(DC01)})
    assert [a["alert_id"] for a in one["alerts"]] == ["alr_1"]
    assert level.fake.count() == 0


def test_active_alerts_live(level: LevelHarness) -> None:
    out = level.ok("alerts.list_active", {"live": True})
    assert [a["alert_id"] for a in out["alerts"]] == level.seed["alert_ids"]
    assert out["alerts"][0]["name"] == "CPU usage"
    assert out["alerts"][0]["severity"] == "critical"
    assert out["alerts"][0]["device_hostname"] == "CONTOSO-DC01"
    assert out["alerts"][0]["is_resolved"] is False
    assert queries(level, "/v2/alerts") == [{"status": ["active"], "limit": ["50"]}]
    one = level.ok("alerts.list_active", {"live": True, "device_id": level.device_id(LT042)})
    assert [a["name"] for a in one["alerts"]] == ["Disk space"]


# -- updates.list ---------------------------------------------------------------------------


def test_updates_by_device_and_status(level: LevelHarness) -> None:
    every = level.ok("updates.list", {})
    assert every["count"] == 5
    dc = level.ok("updates.list", {"device_id": level.device_id(DC01), "status": "available"})
    assert dc["updates"] == [
        {
            "update_id": level.seed["update_ids"][0],
            "device_id": level.device_id(DC01),
            "device_hostname": "CONTOSO-DC01",
            "name": "2024-04 Cumulative Update (KB5036909)",
            "category": "Security",
            "is_available": True,
            "installed_on": None,
        }
    ]
    installed = level.ok("updates.list", {"status": "installed", "limit": 1})
    assert installed["count"] == 1
    assert installed["updates"][0]["is_available"] is False
    assert installed["updates"][0]["installed_on"] is not None
    assert queries(level, "/v2/updates")[-1] == {"status": ["installed"], "limit": ["1"]}


# -- automations.list -----------------------------------------------------------------------


def test_automations_with_their_webhook_tokens(level: LevelHarness) -> None:
    out = level.direct("automations.list", {"query": "REBOOT"}).model_dump(mode="json")
    assert out == {
        "automations": [
            {
                "automation_id": "aut_5",
                "name": "Reboot device",
                "description": "Reboot device (demo automation).",
                "group_id": None,
                "group_name": None,
                "has_webhook_trigger": True,
                "webhook_token": level.seed["auth_webhook_token"],
                "webhook_requires_authorization": True,
            }
        ],
        "count": 1,
    }
    every = level.direct("automations.list", {}).model_dump(mode="json")
    assert every["count"] == 30
    tokens = [a["webhook_token"] for a in every["automations"]]
    assert tokens[:24] == level.seed["webhook_tokens"]
    assert tokens[24:] == [None] * 6  # no webhook trigger saved
    assert every["automations"][0]["group_name"] == "Contoso Dental"


def test_the_ledger_keeps_webhook_tokens_out_and_the_flags_in(level: LevelHarness) -> None:
    # A webhook token lets anyone start its automation: stored redacted (by its
    # key name); the flags beside it are not credentials and are kept.
    [stored] = level.ok("automations.list", {"query": "REBOOT"})["automations"]
    assert stored["webhook_token"] == "[REDACTED]"
    assert stored["webhook_requires_authorization"] is True
    assert stored["has_webhook_trigger"] is True
    assert stored["automation_id"] == "aut_5"
    assert all(level.seed["auth_webhook_token"] not in text for text in level.ledger_texts())


def test_a_webhook_list_longer_than_a_page_is_read_to_its_end(level: LevelHarness) -> None:
    last_token = ""
    for i in range(120):
        automation = level.fake.add_automation(f"Bulk job {i:03d}")
        last_token = level.fake.add_webhook_trigger(automation.id).token
    level.fake.reset()
    out = level.direct("automations.list", {"query": "bulk job 119"}).model_dump()
    assert [a["webhook_token"] for a in out["automations"]] == [last_token]
    hooks = queries(level, "/v2/automations/webhooks")
    assert len(hooks) == 2  # 144 triggers: a page of 100, then the rest
    assert hooks[1]["starting_after"] == ["wht_100"]


def test_a_webhook_list_served_as_a_bare_array(level: LevelHarness) -> None:
    level.fake.webhook_list = "array"
    out = level.direct("automations.list", {"limit": 3}).model_dump()
    assert [a["webhook_token"] for a in out["automations"]] == level.seed["webhook_tokens"][:3]
    assert level.fake.count("GET", "/v2/automations/webhooks") == 1


# -- automations.run_status -----------------------------------------------------------------


def test_run_status_with_and_without_steps(level: LevelHarness) -> None:
    token = level.seed["webhook_tokens"][0]
    level.fake.trigger_body = "run"
    started = level.ok("automations.trigger", {"webhook_token": token})
    run_id = started["run_id"]
    out = level.ok("automations.run_status", {"run_id": run_id})
    assert out["steps"] is None
    assert out["run"]["run_id"] == run_id
    assert out["run"]["status"] == "pending"
    assert out["run"]["automation_name"] == "Restart Print Spooler"
    level.clock.advance(30)
    out = level.ok("automations.run_status", {"run_id": run_id, "include_steps": True})
    assert out["run"]["status"] == "success"
    assert out["run"]["ended_at"] is not None
    assert [s["status"] for s in out["steps"]] == ["success"] * 3
    gets = queries(level, f"/v2/automation-runs/{run_id}")
    assert gets == [{}, {"include_steps": ["true"]}]


def test_run_status_of_an_unknown_run_is_not_found(level: LevelHarness) -> None:
    error = level.error("automations.run_status", {"run_id": "run_404"})
    assert error["code"] == "NOT_FOUND"
    assert "run_404" in error["message"]
