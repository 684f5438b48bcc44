"""The Huntress reads against FakeHuntress over loopback: each action's happy path, and paging.

Lists are token-paged (``limit`` 1 to 500, ``page_token``); the client asks
for no more than the step still needs and stops once its ``limit`` is met,
so the request log shows exactly the pages a step read.
"""

from __future__ import annotations

import httpx
import pytest

from tests.integrations.huntress.conftest import (
    CANARY_KEY,
    CANARY_SECRET,
    HuntressHarness,
    basic,
    output_of,
)

REPORTS = "/v1/incident_reports"


def test_find_returns_incidents_newest_update_first_in_the_reference_shape(
    hunt: HuntressHarness,
) -> None:
    out = hunt.ok("incidents.find", {})
    assert out["count"] == len(out["incidents"]) == 12  # the whole demo, under the default 50
    first = out["incidents"][0]
    assert set(first) == {
        "incident_id", "status", "severity", "platform", "summary", "subject",
        "organization_id", "agent_id", "indicator_types", "sent_at", "closed_at", "updated_at",
    }  # fmt: skip
    updated = [i["updated_at"] for i in out["incidents"]]
    assert updated == sorted(updated, reverse=True)
    [request] = hunt.fake.calls("GET", REPORTS)
    assert request.query == {
        "limit": ["50"],
        "sort_field": ["updated_at"],
        "sort_direction": ["desc"],
    }
    assert request.headers["authorization"] == basic(CANARY_KEY, CANARY_SECRET)
    assert request.headers["accept"] == "application/json"


def test_find_passes_every_filter_and_huntress_applies_them(hunt: HuntressHarness) -> None:
    pending = hunt.seed["pending_incident_id"]
    laptop = hunt.seed["agent_ids"][1]
    out = hunt.ok(
        "incidents.find",
        {
            "status": "sent",
            "severity": "critical",
            "platform": "windows",
            "indicator_type": "ransomware_canaries",
            "organization_id": hunt.seed["organization_ids"][0],
            "agent_id": laptop,
        },
    )
    assert [i["incident_id"] for i in out["incidents"]] == [pending]
    incident = out["incidents"][0]
    assert (incident["status"], incident["severity"], incident["agent_id"]) == (
        "sent",
        "critical",
        laptop,
    )
    assert "ransomware_canaries" in incident["indicator_types"]
    [request] = hunt.fake.calls("GET", REPORTS)
    assert request.query["status"] == ["sent"]
    assert request.query["indicator_type"] == ["ransomware_canaries"]
    assert request.query["agent_id"] == [str(laptop)]


def test_find_asks_only_for_what_it_still_needs_and_stops_at_limit(hunt: HuntressHarness) -> None:
    out = hunt.ok("incidents.find", {"limit": 5})
    assert out["count"] == 5
    [request] = hunt.fake.calls("GET", REPORTS)
    assert request.query["limit"] == ["5"]
    assert "page_token" not in request.query


def test_find_stops_at_limit_even_when_huntress_offers_a_next_page(hunt: HuntressHarness) -> None:
    dc = hunt.seed["agent_ids"][0]
    for _ in range(500):  # 512 reports: more than one page of Huntress's 500
        hunt.fake.add_incident_report(dc, status="closed", created_ago=7 * 86_400)
    out = hunt.ok("incidents.find", {"limit": 500})
    ids = [i["incident_id"] for i in out["incidents"]]
    assert len(ids) == len(set(ids)) == 500
    [request] = hunt.fake.calls("GET", REPORTS)  # a next token was offered, not followed
    assert request.query["limit"] == ["500"]


class ShortPages(httpx.BaseTransport):
    """Loopback HTTP to the fake, as a Huntress that answers at most 2 rows a page.

    ``limit`` is "max number of resources returned" (the spec): a page may be
    shorter than asked, with a next token. ``asked`` keeps what the client asked.
    """

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.asked: list[dict[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == REPORTS:
            self.asked.append(dict(request.url.params))
            request.url = request.url.copy_set_param("limit", "2")
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_find_follows_next_page_tokens_asking_only_for_what_is_missing(
    hunt: HuntressHarness,
) -> None:
    expected = [i["incident_id"] for i in hunt.ok("incidents.find", {"limit": 5})["incidents"]]
    short = ShortPages()
    outcome = hunt.pipeline(short).execute(hunt.task("incidents.find", {"limit": 5}))
    out = output_of(outcome)
    assert [i["incident_id"] for i in out["incidents"]] == expected
    assert [a["limit"] for a in short.asked] == ["5", "3", "1"]
    assert "page_token" not in short.asked[0]
    tokens = [a["page_token"] for a in short.asked[1:]]
    assert len(set(tokens)) == 2
    assert all(a["sort_field"] == "updated_at" for a in short.asked)


def test_find_stops_on_the_last_page(hunt: HuntressHarness) -> None:
    short = ShortPages()
    out = output_of(
        hunt.pipeline(short).execute(hunt.task("incidents.find", {"status": "sent", "limit": 50}))
    )
    assert out["count"] == 3  # the demo's three sent reports: pages of 2 and 1, then no token
    assert [a["limit"] for a in short.asked] == ["50", "48"]


def test_get_returns_the_incident_and_its_body(hunt: HuntressHarness) -> None:
    incident_id = hunt.seed["resolvable_incident_id"]
    out = hunt.ok("incidents.get", {"incident_id": incident_id})
    assert out["incident"]["incident_id"] == incident_id
    assert out["incident"]["status"] == "sent"
    assert out["body"].startswith("<p>Huntress detected")
    assert hunt.fake.calls("GET")[0].path == f"{REPORTS}/{incident_id}"


def test_remediations_list_shows_each_with_its_status(hunt: HuntressHarness) -> None:
    pending = hunt.seed["pending_incident_id"]
    out = hunt.ok("remediations.list", {"incident_id": pending})
    assert out["incident_id"] == pending
    assert out["count"] == 3
    statuses = sorted(r["status"] for r in out["remediations"])
    assert statuses == ["approved", "unapproved", "unapproved"]
    isolate = next(r for r in out["remediations"] if r["action"] == "Isolate Host")
    assert isolate["type"] == "containment"
    assert isolate["parameters"] == ["CONTOSO-LT042"]
    assert isolate["approved_by"] == "Dana Reyes"
    assert isolate["approved_at"] is not None

    only = hunt.ok(
        "remediations.list",
        {"incident_id": pending, "statuses": ["unapproved"], "types": ["assisted", "manual"]},
    )
    assert {r["status"] for r in only["remediations"]} == {"unapproved"}
    request = hunt.fake.calls("GET", f"{REPORTS}/{pending}/remediations")[-1]
    assert request.query["statuses[]"] == ["unapproved"]
    assert request.query["types[]"] == ["assisted,manual"]


def test_remediations_list_is_paged_and_stops_at_limit(hunt: HuntressHarness) -> None:
    many = hunt.seed["incident_report_ids"][3]  # twelve remediations
    path = f"{REPORTS}/{many}/remediations"
    assert hunt.ok("remediations.list", {"incident_id": many})["count"] == 12
    assert hunt.ok("remediations.list", {"incident_id": many, "limit": 4})["count"] == 4
    assert [c.query["limit"] for c in hunt.fake.calls("GET", path)] == [["100"], ["4"]]


def test_organizations_list_all_or_by_name_substring(hunt: HuntressHarness) -> None:
    out = hunt.ok("organizations.list", {})
    assert out["count"] == 3
    assert {o["name"] for o in out["organizations"]} == {
        "Contoso Dental",
        "Fabrikam Legal",
        "Northwind Traders",
    }
    contoso = next(o for o in out["organizations"] if o["name"] == "Contoso Dental")
    assert contoso == {
        "organization_id": hunt.seed["organization_ids"][0],
        "name": "Contoso Dental",
        "agents_count": 2,
    }
    found = hunt.ok("organizations.list", {"query": "LEGAL"})
    assert [o["name"] for o in found["organizations"]] == ["Fabrikam Legal"]
    calls = hunt.fake.calls("GET", "/v1/organizations")
    assert [c.query["limit"] for c in calls] == [["100"], ["500"]]
    assert "name" not in calls[1].query  # Huntress's name filter is exact: matched here


def test_organizations_list_stops_reading_pages_once_limit_match(hunt: HuntressHarness) -> None:
    for n in range(7):
        hunt.fake.add_organization(hunt.account_id, f"Acme Branch {n}")
    out = hunt.ok("organizations.list", {"limit": 2})
    assert out["count"] == 2
    assert [c.query["limit"] for c in hunt.fake.calls("GET", "/v1/organizations")] == [["2"]]


def test_organizations_search_follows_tokens_until_a_match_then_stops(
    hunt: HuntressHarness,
) -> None:
    needle = hunt.fake.add_organization(hunt.account_id, "Zeta Needle Clinic")
    for n in range(600):  # newer, so listed first: the match is on the second page of 500
        hunt.fake.add_organization(hunt.account_id, f"Branch {n:03d}")
    out = hunt.ok("organizations.list", {"query": "needle", "limit": 1})
    assert [o["organization_id"] for o in out["organizations"]] == [needle.id]
    calls = hunt.fake.calls("GET", "/v1/organizations")
    assert [c.query["limit"] for c in calls] == [["500"], ["500"]]
    assert "page_token" not in calls[0].query and "page_token" in calls[1].query


def test_agents_get(hunt: HuntressHarness) -> None:
    dc = hunt.seed["agent_ids"][0]
    out = hunt.ok("agents.get", {"agent_id": dc})
    agent = out["agent"]
    assert agent["agent_id"] == dc
    assert agent["hostname"] == "CONTOSO-DC01"
    assert agent["platform"] == "windows"
    assert agent["os"] == "Windows Server 2022 Standard"
    assert agent["ipv4_address"] == "10.0.0.5"
    assert agent["organization_id"] == hunt.seed["organization_ids"][0]
    assert agent["last_callback_at"] is not None and agent["version"]


def test_account_get(hunt: HuntressHarness) -> None:
    assert hunt.ok("account.get", {}) == {
        "account_id": hunt.account_id,
        "name": "Patchbay Demo MSP",
        "subdomain": "patchbay-demo",
    }
    [request] = hunt.fake.calls("GET", "/v1/account")
    assert request.headers["authorization"] == basic(CANARY_KEY, CANARY_SECRET)


@pytest.mark.parametrize(
    ("action", "args", "message"),
    [
        ("incidents.get", {"incident_id": 999_999}, "Huntress incident report 999999 not found"),
        ("agents.get", {"agent_id": 999_999}, "Huntress agent 999999 not found"),
        (
            "remediations.list",
            {"incident_id": 999_999},
            "Huntress incident report 999999 not found",
        ),
    ],
)
def test_unknown_ids_are_not_found(
    hunt: HuntressHarness, action: str, args: dict[str, int], message: str
) -> None:
    error = hunt.error(action, args)
    assert error["code"] == "NOT_FOUND"
    assert error["message"] == message
    assert error["vendor"]["status"] == 404
