"""The Tactical RMM read actions against FakeTacticalRmm over loopback HTTP, through the pipeline.

Happy paths of ``agents.find`` (mirror and live), ``agents.get`` and
``scripts.list``, and their named failures: a refused key, an unknown agent,
a server error (retried later), paging that stops at ``limit``, the beta API
switched off, a missing key; the API key never reaches an error, a ledger
row, a log line or the fake's exported request log.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest

from executor.pipeline import Reschedule
from sandbox.core import Fault
from store.models import Asset
from tests.integrations.tacticalrmm.conftest import CANARY_KEY, TENANT, TacticalHarness

DC01, LT042, WS07, NAS = range(4)
BETA_LIST = "/beta/v1/agent/"


def add_asset(tactical: TacticalHarness, name: str, agent_id: str, **fields: Any) -> uuid.UUID:
    asset_id = uuid.uuid4()
    with tactical.store.sessions.begin() as session:
        session.add(
            Asset(
                tenant=TENANT,
                asset_id=asset_id,
                name=name,
                rmm_provider=fields.pop("rmm_provider", "tacticalrmm"),
                rmm_device_id=agent_id,
                **fields,
            )
        )
    return asset_id


def vendor_paths(tactical: TacticalHarness) -> list[str]:
    return [r.path for r in tactical.fake.requests]


# -- agents.find --------------------------------------------------------------------------


def test_find_reads_the_local_mirror_without_calling_the_vendor(tactical: TacticalHarness) -> None:
    dc = add_asset(
        tactical,
        "CONTOSO-DC01",
        tactical.agent_id(DC01),
        serial_number="CZ2049XK",
        agent_status="Online",
        rmm_organization_id="1",
        attributes={"os_name": "Windows Server 2022", "client_name": "Contoso Dental"},
    )
    add_asset(tactical, "FABRIKAM-WS07", tactical.agent_id(WS07), agent_status="overdue")
    add_asset(tactical, "ninja box", "77", rmm_provider="ninjaone")
    out = tactical.ok("agents.find", {"query": "cz2049"})
    assert out["count"] == 1
    [agent] = out["agents"]
    assert agent == {
        "agent_id": tactical.agent_id(DC01),
        "asset_id": str(dc),
        "hostname": "CONTOSO-DC01",
        "organization_id": "1",
        "client_name": "Contoso Dental",
        "site_name": None,
        "agent_online": True,
        "last_seen_at": None,
        "os_name": "Windows Server 2022",
        "source": "local",
    }
    everything = tactical.ok("agents.find", {})
    assert [a["hostname"] for a in everything["agents"]] == ["CONTOSO-DC01", "FABRIKAM-WS07"]
    assert everything["agents"][1]["agent_online"] is False  # overdue is not online
    assert tactical.fake.count() == 0


def test_live_find_lists_agents_without_status_or_client(tactical: TacticalHarness) -> None:
    nas_asset = add_asset(tactical, "nas", tactical.agent_id(NAS))
    out = tactical.ok("agents.find", {"live": True})
    assert out["count"] == 4
    assert [a["hostname"] for a in out["agents"]] == [
        "CONTOSO-DC01",
        "CONTOSO-LT042",
        "FABRIKAM-WS07",
        "fabrikam-nas",
    ]
    # Beta list rows carry neither status nor client: unknown, not guessed.
    assert {a["agent_online"] for a in out["agents"]} == {None}
    assert {a["organization_id"] for a in out["agents"]} == {None}
    assert {a["source"] for a in out["agents"]} == {"tacticalrmm"}
    nas = out["agents"][NAS]
    assert nas["asset_id"] == str(nas_asset)
    assert nas["os_name"] == "Ubuntu 22.04.4 LTS"
    assert nas["last_seen_at"] is not None
    [request] = tactical.fake.requests
    assert (request.method, request.path) == ("GET", BETA_LIST)
    assert request.query == {"page": ["1"], "page_size": ["50"]}


def test_live_find_by_query_is_an_exact_hostname_filter(tactical: TacticalHarness) -> None:
    out = tactical.ok("agents.find", {"live": True, "query": "fabrikam-nas"})
    assert [a["agent_id"] for a in out["agents"]] == [tactical.agent_id(NAS)]
    assert tactical.ok("agents.find", {"live": True, "query": "fabrikam"})["count"] == 0
    assert tactical.fake.requests[0].query["hostname"] == ["fabrikam-nas"]


def test_live_find_by_agent_id_uses_the_string_id_route_with_status_and_client(
    tactical: TacticalHarness,
) -> None:
    out = tactical.ok("agents.find", {"live": True, "agent_id": tactical.agent_id(WS07)})
    [agent] = out["agents"]
    assert agent["agent_online"] is False  # the seeded offline agent
    assert agent["client_name"] == "Fabrikam Legal"
    assert agent["site_name"] == "HQ"
    assert vendor_paths(tactical) == [f"/agents/{tactical.agent_id(WS07)}/"]


def test_live_find_of_an_unknown_agent_or_unmirrored_asset_finds_nothing(
    tactical: TacticalHarness,
) -> None:
    unknown = "NOSUCHAGENTAAAAAAAAAA00000000000000000099"
    assert tactical.ok("agents.find", {"live": True, "agent_id": unknown})["count"] == 0
    other = add_asset(tactical, "ninja box", "77", rmm_provider="ninjaone")
    assert tactical.ok("agents.find", {"live": True, "asset_id": str(other)})["count"] == 0
    assert vendor_paths(tactical) == [f"/agents/{unknown}/"]


def test_live_find_by_asset_reads_the_agent_it_mirrors(tactical: TacticalHarness) -> None:
    asset = add_asset(tactical, "laptop", tactical.agent_id(LT042))
    out = tactical.ok("agents.find", {"live": True, "asset_id": str(asset)})
    [agent] = out["agents"]
    assert (agent["hostname"], agent["asset_id"]) == ("CONTOSO-LT042", str(asset))


def test_live_paging_stops_at_limit(tactical: TacticalHarness) -> None:
    site = 1
    for n in range(30):
        tactical.fake.add_agent(f"BULK-{n:03d}", site)
    out = tactical.ok("agents.find", {"live": True, "limit": 5})
    assert out["count"] == 5
    requests = tactical.fake.requests
    assert len(requests) == 1  # one page of `limit` rows; the next page is never asked for
    assert requests[0].query["page_size"] == ["5"]
    assert tactical.ok("agents.find", {"live": True, "limit": 200})["count"] == 34


# -- agents.get ---------------------------------------------------------------------------


def test_get_reads_the_agent_by_its_string_id(tactical: TacticalHarness) -> None:
    agent_id = tactical.agent_id(DC01)
    asset = add_asset(tactical, "dc", agent_id)
    agent = tactical.ok("agents.get", {"agent_id": f"  {agent_id} "})["agent"]
    assert agent["agent_id"] == agent_id
    assert agent["asset_id"] == str(asset)
    assert agent["hostname"] == "CONTOSO-DC01"
    assert agent["agent_online"] is True
    assert (agent["client_name"], agent["site_name"]) == ("Contoso Dental", "Main Office")
    assert agent["os_name"].startswith("Windows 11 Pro")
    assert agent["last_seen_at"] is not None
    assert agent["source"] == "tacticalrmm"
    # Never the beta detail route: it takes the integer pk and 404s on a string id.
    assert vendor_paths(tactical) == [f"/agents/{agent_id}/"]


@pytest.mark.parametrize(
    ("agent_id", "said"),
    [
        ("NOSUCHAGENTAAAAAAAAAA00000000000000000099", "No Agent matches the given query."),
        ("short-id", "no route matches the path"),  # under 21 characters: Django's 404
    ],
)
def test_get_of_an_unknown_agent_is_not_found(
    tactical: TacticalHarness, agent_id: str, said: str
) -> None:
    error = tactical.error("agents.get", {"agent_id": agent_id})
    assert error["code"] == "NOT_FOUND"
    assert error["retryable"] is False
    assert error["vendor"] == {"status": 404, "message": said}
    assert agent_id in error["message"]


def test_get_input_errors_send_nothing(tactical: TacticalHarness) -> None:
    for bad in ({}, {"agent_id": "   "}, {"agent_id": 12}, {"agent_id": "x", "extra": 1}):
        outcome = tactical.run("agents.get", bad)
        assert "VALIDATION_ERROR" in json.dumps(getattr(outcome, "payload", None)), bad
    assert tactical.fake.count() == 0


# -- scripts.list -------------------------------------------------------------------------


def test_scripts_list_maps_the_library(tactical: TacticalHarness) -> None:
    out = tactical.ok("scripts.list", {})
    assert out["count"] == 3
    by_name = {s["name"]: s for s in out["scripts"]}
    logs = by_name["Collect system logs"]
    assert logs == {
        "id": tactical.seed["script_ids"][1],
        "name": "Collect system logs",
        "shell": "shell",
        "category": "Diagnostics",
        "description": logs["description"],
    }
    assert by_name["Clear temp files"]["description"].startswith("Deletes files")
    assert vendor_paths(tactical) == ["/scripts/"]


def test_scripts_list_filters_by_name_in_any_case_then_limits(tactical: TacticalHarness) -> None:
    found = tactical.ok("scripts.list", {"query": "TEMP"})
    assert [s["name"] for s in found["scripts"]] == ["Clear temp files"]
    assert tactical.ok("scripts.list", {"limit": 2})["count"] == 2
    assert tactical.ok("scripts.list", {"query": "nothing like it"}) == {"scripts": [], "count": 0}


def test_scripts_list_tolerates_wrong_types_and_a_non_list_body(tactical: TacticalHarness) -> None:
    odd = [{"id": "7", "name": 5, "shell": "cmd", "category": None, "description": ["x"]}]
    tactical.fake.inject(Fault(status=200, body=odd), path="/scripts/")
    [script] = tactical.ok("scripts.list", {})["scripts"]
    assert script == {
        "id": None,
        "name": None,
        "shell": "cmd",
        "category": None,
        "description": None,
    }
    tactical.fake.inject(Fault(status=200, body={"not": "a list"}), path="/scripts/")
    assert tactical.ok("scripts.list", {}) == {"scripts": [], "count": 0}


# -- failures shared by every action ------------------------------------------------------

READS: list[tuple[str, dict[str, Any]]] = [
    ("agents.find", {"live": True}),
    ("agents.get", {"agent_id": "CONTOSO-DC01" + "A" * 8 + f"{1:020d}"}),  # the seeded DC01
    ("scripts.list", {}),
]


@pytest.mark.parametrize(("action", "args"), READS)
def test_a_refused_key_is_misconfigured_with_the_drf_detail(
    tactical: TacticalHarness, action: str, args: dict[str, Any]
) -> None:
    tactical.set_secret("tacticalrmm_api_key", "WRONG-key-not-known-to-the-server")
    error = tactical.error(action, args)
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert error["retryable"] is False
    assert error["vendor"] == {"status": 401, "message": "Invalid token."}
    assert "WRONG-key" not in json.dumps(error)
    assert tactical.fake.count() == 1  # an API key is not refreshed: no second try


@pytest.mark.parametrize(("action", "args"), READS)
def test_a_server_error_is_retried_later(
    tactical: TacticalHarness, action: str, args: dict[str, Any]
) -> None:
    tactical.fake.inject(Fault(status=502, body="<html>Bad Gateway</html>"))
    outcome = tactical.run(action, args, key="outage")
    assert isinstance(outcome, Reschedule)
    assert outcome.reason == "retry"
    tactical.clock.advance(outcome.countdown)
    assert tactical.ok(action, args, key="outage")
    assert tactical.fake.count() == 2


def test_the_beta_api_switched_off_is_named(tactical: TacticalHarness) -> None:
    tactical.fake.beta_enabled = False
    error = tactical.error("agents.find", {"live": True})
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert "BETA_API_ENABLED" in error["message"]
    # The reads that do not need the beta API still work.
    assert tactical.ok("agents.get", {"agent_id": tactical.agent_id(DC01)})["agent"]
    assert tactical.ok("scripts.list", {})["count"] == 3


def test_a_missing_key_is_named_and_local_reads_still_work(tactical: TacticalHarness) -> None:
    tactical.delete_secret("tacticalrmm_api_key")
    error = tactical.error("scripts.list", {})
    assert error["code"] == "INTEGRATION_MISCONFIGURED"
    assert "Tactical RMM API key is not configured for this tenant" in error["message"]
    assert "tacticalrmm_api_key" in error["message"]
    assert tactical.ok("agents.find", {})["count"] == 0
    assert tactical.fake.count() == 0


def test_a_disconnected_tenant_is_inactive_and_nothing_is_sent(tactical: TacticalHarness) -> None:
    from store import connections as conn

    with tactical.store.sessions.begin() as session:
        assert conn.disconnect(session, TENANT, "tacticalrmm")
    for action, args in READS:
        assert tactical.error(action, args)["code"] == "INTEGRATION_INACTIVE"
    assert tactical.fake.count() == 0


def test_the_key_never_reaches_errors_ledger_rows_logs_or_the_request_log(
    tactical: TacticalHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tactical.ok("scripts.list", {})
    # A server that echoes the key it was sent back in its error.
    tactical.fake.inject(
        Fault(status=400, body={"detail": f"bad key {CANARY_KEY}"}), path="/scripts/"
    )
    echoed = tactical.error("scripts.list", {})
    assert echoed["code"] == "VENDOR_ERROR"
    assert echoed["vendor"]["status"] == 400
    missing = tactical.error("agents.get", {"agent_id": "NOSUCHAGENTAAAAAAAAAA0000000099"})
    assert missing["code"] == "NOT_FOUND"
    # The key was sent, as the header Tactical reads ...
    assert tactical.fake.requests[0].headers["x-api-key"] == CANARY_KEY
    # ... and is nowhere else.
    rows = tactical.ledger_texts()
    assert len(rows) == 3
    exported = json.dumps(tactical.vendor_requests())
    assert {r["headers"]["x-api-key"] for r in tactical.vendor_requests()} == {"***"}
    for text in (json.dumps(echoed), json.dumps(missing), caplog.text, exported, *rows):
        assert CANARY_KEY not in text
