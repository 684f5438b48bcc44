"""FakeHuntress over real HTTP: auth, paging, filters, resolution, remediations, the rate window."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.core import ManualClock, RunningServer
from sandbox.huntress import FakeHuntress

CANARY_KEY = "hk_CANARY_key_must_never_be_logged_0001"
CANARY_SECRET = "hs_CANARY_secret_must_never_be_logged_0001"
UNAUTHORIZED = {"error": "Unauthorized"}
FORBIDDEN = {"error": "There was an issue with your API credential or permissions."}
NOT_FOUND = {"error": "Not Found"}
TOO_MANY = {"error": "Too Many Requests"}
CANNOT_RESOLVE_PENDING = {
    "error": "Incident Report cannot be resolved. "
    "Confirm that all remediations are approved and report status is 'sent'."
}
CANNOT_RESOLVE_UNSENT = {
    "error": "Incident Report cannot be resolved unless report status is 'sent'."
}
MUST_BE_SENT = {"error": "Incident Report must have a status of 'sent'."}
REJECTION = {"comment": "Wrong host: this is a lab machine.", "useful": False}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def seeded(clock: ManualClock) -> tuple[FakeHuntress, dict[str, Any]]:
    fake = FakeHuntress(clock=clock)
    seed = fake.seed_demo()
    fake.add_key(seed["account_id"], key=CANARY_KEY, secret=CANARY_SECRET)
    return fake, seed


@pytest.fixture
def fake(seeded: tuple[FakeHuntress, dict[str, Any]]) -> FakeHuntress:
    return seeded[0]


@pytest.fixture
def seed(seeded: tuple[FakeHuntress, dict[str, Any]]) -> dict[str, Any]:
    return seeded[1]


@pytest.fixture
def server(fake: FakeHuntress) -> Iterator[RunningServer]:
    with fake.serve() as running:
        yield running


def client(
    server: RunningServer, key: str | None = None, secret: str | None = None
) -> httpx.Client:
    auth = None if key is None or secret is None else httpx.BasicAuth(key, secret)
    return httpx.Client(base_url=server.base_url, auth=auth)


@pytest.fixture
def anon(server: RunningServer) -> Iterator[httpx.Client]:
    with client(server) as c:
        yield c


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with client(server, CANARY_KEY, CANARY_SECRET) as c:
        yield c


@pytest.fixture
def read_only(server: RunningServer, seed: dict[str, Any]) -> Iterator[httpx.Client]:
    with client(server, seed["read_only_api_key"], seed["read_only_api_secret"]) as c:
        yield c


def report(api: httpx.Client, incident_id: int) -> dict[str, Any]:
    answer = api.get(f"/v1/incident_reports/{incident_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()["incident_report"]
    return found


def walk(api: httpx.Client, path: str, plural: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, following ``next_page_url`` (and checking the token agrees)."""
    items: list[dict[str, Any]] = []
    answer = api.get(path, params=params)
    for _ in range(100):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {plural, "pagination"}
        items += body[plural]
        pagination = body["pagination"]
        if not pagination:
            return items
        assert set(pagination) == {"next_page_url", "next_page_token"}
        url = pagination["next_page_url"]
        assert parse_qs(urlsplit(url).query)["page_token"] == [pagination["next_page_token"]]
        answer = api.get(url)
    pytest.fail("paging never ended")


# -- authentication ---------------------------------------------------------------------


def test_missing_or_invalid_credentials_are_401_with_a_basic_challenge(
    server: RunningServer, anon: httpx.Client
) -> None:
    bad_headers = [
        {},
        {"Authorization": f"Bearer {CANARY_KEY}"},
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Basic " + base64.b64encode(CANARY_KEY.encode()).decode()},
    ]
    for headers in bad_headers:
        answer = anon.get("/v1/account", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json() == UNAUTHORIZED
        assert answer.headers["WWW-Authenticate"].startswith("Basic ")
    for key, secret in ((CANARY_KEY, "wrong"), ("hk_unknown", CANARY_SECRET)):
        with client(server, key, secret) as c:
            assert c.get("/v1/incident_reports").status_code == 401


def test_a_user_key_reads_its_account(api: httpx.Client, seed: dict[str, Any]) -> None:
    answer = api.get("/v1/account")
    assert answer.status_code == 200
    account = answer.json()["account"]
    assert account["id"] == seed["account_id"]
    assert (account["name"], account["subdomain"], account["status"]) == (
        "Patchbay Demo MSP",
        "patchbay-demo",
        "enabled",
    )


def test_a_read_only_account_key_reads_but_gets_403_on_every_write(
    read_only: httpx.Client, api: httpx.Client, seed: dict[str, Any]
) -> None:
    assert read_only.get("/v1/incident_reports").status_code == 200
    resolvable, pending = seed["resolvable_incident_id"], seed["pending_incident_id"]
    writes = [
        (f"/v1/incident_reports/{resolvable}/resolution", None),
        (f"/v1/incident_reports/{pending}/remediations/bulk_approval", None),
        (f"/v1/incident_reports/{pending}/remediations/bulk_rejection", REJECTION),
        ("/v1/incident_reports/999999/resolution", None),  # permission is checked first
    ]
    for path, body in writes:
        answer = read_only.post(path, json=body)
        assert (answer.status_code, answer.json()) == (403, FORBIDDEN), path
    assert report(api, resolvable)["status"] == "sent"
    statuses = [r["status"] for r in report(api, pending)["remediations"]["items"]]
    assert statuses.count("unapproved") == 2


def test_paths_outside_v1_are_404_and_unknown_v1_paths_need_auth(
    anon: httpx.Client, api: httpx.Client
) -> None:
    assert anon.get("/v2/agents").status_code == 404
    assert anon.get("/v1/nothing").status_code == 401
    assert (api.get("/v1/nothing").status_code, api.get("/v1/nothing").json()) == (404, NOT_FOUND)
    assert api.delete("/v1/account").status_code == 405


# -- paging -------------------------------------------------------------------------------


def test_the_default_page_is_10_with_a_next_page_url_only_when_more_remain(
    api: httpx.Client, server: RunningServer, seed: dict[str, Any]
) -> None:
    first = api.get("/v1/incident_reports")
    assert first.status_code == 200
    body = first.json()
    assert len(body["incident_reports"]) == 10
    url = body["pagination"]["next_page_url"]
    assert url.startswith(f"{server.base_url}/v1/incident_reports?")
    assert parse_qs(urlsplit(url).query)["limit"] == ["10"]
    second = api.get(url).json()
    assert len(second["incident_reports"]) == 2
    assert second["pagination"] == {}
    ids = [r["id"] for r in body["incident_reports"] + second["incident_reports"]]
    assert ids == sorted(seed["incident_report_ids"], reverse=True)  # default: id desc


def test_following_tokens_returns_every_item_once(api: httpx.Client, seed: dict[str, Any]) -> None:
    for limit in (1, 3, 5, 12, 500):
        items = walk(api, "/v1/incident_reports", "incident_reports", limit=limit)
        assert sorted(r["id"] for r in items) == sorted(seed["incident_report_ids"])
    by_token = api.get("/v1/incident_reports", params={"limit": 5})
    token = by_token.json()["pagination"]["next_page_token"]
    again = api.get("/v1/incident_reports", params={"limit": 5, "page_token": token})
    assert [r["id"] for r in again.json()["incident_reports"]] == sorted(
        seed["incident_report_ids"], reverse=True
    )[5:10]


def test_next_page_url_keeps_the_filters_and_sort(api: httpx.Client) -> None:
    items = walk(
        api,
        "/v1/incident_reports",
        "incident_reports",
        status="closed",
        sort_field="updated_at",
        sort_direction="asc",
        limit=1,
    )
    assert len(items) == 4
    assert {r["status"] for r in items} == {"closed"}
    stamps = [r["updated_at"] for r in items]
    assert stamps == sorted(stamps)


def test_limit_out_of_range_or_not_a_number_and_a_bad_token_are_400(api: httpx.Client) -> None:
    for limit, message in (
        ("0", "limit does not have a valid value"),
        ("501", "limit does not have a valid value"),
        ("ten", "limit is invalid"),
    ):
        answer = api.get("/v1/agents", params={"limit": limit})
        assert (answer.status_code, answer.json()) == (400, {"error": message})
    assert api.get("/v1/agents", params={"limit": 500}).status_code == 200
    bad = api.get("/v1/agents", params={"page_token": "not-a-token"})
    assert (bad.status_code, bad.json()) == (400, {"error": "page_token is invalid"})


def test_lists_sort_by_the_specs_fields(api: httpx.Client, seed: dict[str, Any]) -> None:
    asc = api.get("/v1/agents", params={"sort_direction": "asc"}).json()["agents"]
    assert [a["id"] for a in asc] == seed["agent_ids"]
    names = api.get("/v1/organizations", params={"sort_field": "name", "sort_direction": "asc"})
    assert [o["name"] for o in names.json()["organizations"]] == [
        "Contoso Dental",
        "Fabrikam Legal",
        "Northwind Traders",
    ]
    for path, field in (("/v1/agents", "name"), ("/v1/incident_reports", "key")):
        answer = api.get(path, params={"sort_field": field})
        assert answer.json() == {"error": "sort_field does not have a valid value"}
    assert api.get("/v1/agents", params={"sort_direction": "up"}).status_code == 400


# -- filters and enums ---------------------------------------------------------------------


def test_incident_filters(api: httpx.Client, seed: dict[str, Any]) -> None:
    def ids(**params: Any) -> set[int]:
        return {r["id"] for r in walk(api, "/v1/incident_reports", "incident_reports", **params)}

    pending, resolvable = seed["pending_incident_id"], seed["resolvable_incident_id"]
    sent = ids(status="sent")
    assert {pending, resolvable} <= sent
    assert all(report(api, i)["status"] == "sent" for i in sent)
    assert pending in ids(severity="critical")
    assert resolvable not in ids(severity="critical")
    assert ids(indicator_type="ransomware_canaries") == {pending}
    mac = seed["agent_ids"][2]
    assert seed["unsent_incident_id"] in ids(platform="darwin") == ids(agent_id=mac)
    assert len(ids(platform="darwin")) == 2
    assert ids(platform="google") == set()
    laptop = seed["agent_ids"][1]
    assert all(report(api, i)["agent_id"] == laptop for i in ids(agent_id=laptop))
    contoso = seed["organization_ids"][0]
    assert {resolvable, pending} <= ids(organization_id=contoso)
    assert ids(organization_id=contoso, status="sent", severity="high") == {resolvable}


def test_a_value_outside_an_enum_is_400(api: httpx.Client) -> None:
    for name, value in (
        ("status", "resolved"),
        ("severity", "medium"),
        ("platform", "solaris"),
        ("indicator_type", "viruses"),
    ):
        answer = api.get("/v1/incident_reports", params={name: value})
        assert (answer.status_code, answer.json()) == (
            400,
            {"error": f"{name} does not have a valid value"},
        )
    answer = api.get("/v1/incident_reports", params={"organization_id": "contoso"})
    assert answer.json() == {"error": "organization_id is invalid"}
    assert api.get("/v1/agents", params={"platform": "microsoft_365"}).status_code == 400


def test_organizations_and_agents(api: httpx.Client, seed: dict[str, Any]) -> None:
    contoso_id = seed["organization_ids"][0]
    orgs = api.get("/v1/organizations", params={"key": "contoso"}).json()["organizations"]
    assert [(o["id"], o["agents_count"]) for o in orgs] == [(contoso_id, 2)]
    assert api.get("/v1/organizations", params={"name": "Fabrikam Legal"}).json()["organizations"][
        0
    ]["key"] == ("fabrikam")
    one = api.get(f"/v1/organizations/{contoso_id}").json()
    assert one["organization"]["name"] == "Contoso Dental"
    assert api.get("/v1/organizations/1").status_code == 404
    agents = walk(api, "/v1/agents", "agents", organization_id=contoso_id)
    assert {a["hostname"] for a in agents} == {"CONTOSO-DC01", "CONTOSO-LT042"}
    linux = api.get("/v1/agents", params={"platform": "linux"}).json()["agents"]
    assert [a["hostname"] for a in linux] == ["fabrikam-nas"]
    found = api.get("/v1/agents", params={"hostname": "NW-POS-01"}).json()["agents"]
    agent = api.get(f"/v1/agents/{found[0]['id']}").json()
    assert set(agent) == {"agent"}
    assert agent["agent"]["hostname"] == "NW-POS-01"
    for path in ("/v1/agents/999999", "/v1/agents/abc", "/v1/incident_reports/999999"):
        assert (api.get(path).status_code, api.get(path).json()) == (404, NOT_FOUND)


# -- resolution ----------------------------------------------------------------------------


def test_resolution_matrix(
    api: httpx.Client, read_only: httpx.Client, seed: dict[str, Any]
) -> None:
    def resolve(c: httpx.Client, incident_id: int) -> httpx.Response:
        return c.post(f"/v1/incident_reports/{incident_id}/resolution")

    resolvable = seed["resolvable_incident_id"]
    assert (resolve(read_only, resolvable).status_code, resolve(read_only, resolvable).json()) == (
        403,
        FORBIDDEN,
    )
    pending = resolve(api, seed["pending_incident_id"])
    assert (pending.status_code, pending.json()) == (409, CANNOT_RESOLVE_PENDING)
    unsent = resolve(api, seed["unsent_incident_id"])
    assert (unsent.status_code, unsent.json()) == (422, CANNOT_RESOLVE_UNSENT)
    unknown = resolve(api, 999999)
    assert (unknown.status_code, unknown.json()) == (404, NOT_FOUND)

    done = resolve(api, resolvable)
    assert done.status_code == 201
    resolved = done.json()["incident_report"]
    assert resolved["id"] == resolvable
    assert resolved["status"] == "closed"
    assert resolved["closed_at"] is not None
    assert resolved["closed_at"] == resolved["status_updated_at"]
    assert report(api, resolvable)["status"] == "closed"
    assert resolve(api, resolvable).status_code == 422  # closed now: no longer "sent"


def test_a_sent_report_without_remediations_resolves(api: httpx.Client) -> None:
    sent = walk(api, "/v1/incident_reports", "incident_reports", status="sent")
    bare = [r for r in sent if r["remediations"]["total_count"] == 0]
    assert bare
    assert api.post(f"/v1/incident_reports/{bare[0]['id']}/resolution").status_code == 201


def test_approval_then_resolution(
    server: RunningServer, api: httpx.Client, fake: FakeHuntress, seed: dict[str, Any]
) -> None:
    pending = seed["pending_incident_id"]
    approver = fake.add_user(seed["account_id"], "Alex Approver", "alex@patchbay-demo.test")
    with client(server, *fake.add_key(seed["account_id"], user=approver)) as alex:
        approved = alex.post(f"/v1/incident_reports/{pending}/remediations/bulk_approval")
    assert approved.status_code == 201
    items = approved.json()["incident_report"]["remediations"]["items"]
    assert {r["status"] for r in items} == {"approved"}
    newly = [r for r in items if r["type"] != "containment"]
    assert [r["approved_by"] for r in newly] == [approver.view()] * 2
    assert all(r["approved_at"] for r in items)
    again = api.post(f"/v1/incident_reports/{pending}/remediations/bulk_approval")
    assert again.status_code == 201  # nothing left to approve
    resolved = api.post(f"/v1/incident_reports/{pending}/resolution")
    assert (resolved.status_code, resolved.json()["incident_report"]["status"]) == (201, "closed")
    late = api.post(f"/v1/incident_reports/{pending}/remediations/bulk_approval")
    assert (late.status_code, late.json()) == (409, MUST_BE_SENT)


def test_rejection(api: httpx.Client, fake: FakeHuntress, seed: dict[str, Any]) -> None:
    pending = seed["pending_incident_id"]
    path = f"/v1/incident_reports/{pending}/remediations/bulk_rejection"
    missing = api.post(path)
    assert (missing.status_code, missing.json()) == (
        400,
        {"error": "comment is missing, useful is missing"},
    )
    invalid = api.post(path, json={"comment": "no", "useful": "maybe"})
    assert (invalid.status_code, invalid.json()) == (400, {"error": "useful is invalid"})
    rejected = api.post(path, json={**REJECTION, "name": "Sam", "email": "sam@msp.test"})
    assert rejected.status_code == 201
    assert rejected.content == b""
    statuses = [r["status"] for r in report(api, pending)["remediations"]["items"]]
    assert sorted(statuses) == ["approved", "cancelled", "cancelled"]
    assert report(api, pending)["status"] == "sent"
    assert fake.rejections(pending) == [
        {**REJECTION, "name": "Sam", "phone_number": None, "email": "sam@msp.test"}
    ]
    unsent = api.post(
        f"/v1/incident_reports/{seed['unsent_incident_id']}/remediations/bulk_rejection",
        json=REJECTION,
    )
    assert (unsent.status_code, unsent.json()) == (409, MUST_BE_SENT)
    unknown = api.post("/v1/incident_reports/999999/remediations/bulk_rejection", json=REJECTION)
    assert unknown.status_code == 404


def test_remediations_list_filters_and_pages(api: httpx.Client, seed: dict[str, Any]) -> None:
    pending = seed["pending_incident_id"]
    path = f"/v1/incident_reports/{pending}/remediations"
    everything = walk(api, path, "remediations")
    assert len(everything) == 3
    unapproved = walk(api, path, "remediations", **{"statuses[]": "unapproved"})
    assert {r["type"] for r in unapproved} == {"assisted", "manual"}
    both = walk(api, path, "remediations", **{"statuses[]": "unapproved,approved"})
    assert len(both) == 3
    contain = walk(api, path, "remediations", **{"types[]": "containment"})
    assert [r["action"] for r in contain] == ["Isolate Host"]
    bad = api.get(path, params={"statuses[]": "unapproved,rejected"})
    assert (bad.status_code, bad.json()) == (
        400,
        {"error": "statuses[] does not have a valid value"},
    )
    one = api.get(f"{path}/{everything[0]['id']}").json()
    assert one == {"remediation": everything[0]}
    assert api.get(f"{path}/1").status_code == 404
    # a report with 12 remediations embeds the first 10 and pages the rest
    big = next(
        r
        for r in walk(api, "/v1/incident_reports", "incident_reports")
        if r["remediations"]["total_count"] > 10
    )
    assert big["remediations"]["has_more"] is True
    assert len(big["remediations"]["items"]) == 10
    pages = walk(api, f"/v1/incident_reports/{big['id']}/remediations", "remediations")
    assert len(pages) == len({r["id"] for r in pages}) == 12


# -- the rate window --------------------------------------------------------------------------


def test_the_specs_sliding_window_example(
    api: httpx.Client, clock: ManualClock, fake: FakeHuntress, seed: dict[str, Any]
) -> None:
    # Spec, "Rate Limits": request 1 at T0, 2 at T5, 3-60 at T10; 61 at T55 fails;
    # 61 at T61 succeeds; 62 at T61 fails until time has passed T65.
    def call() -> httpx.Response:
        return api.get("/v1/account")

    assert call().status_code == 200
    clock.advance(5)
    assert call().status_code == 200
    clock.advance(5)
    assert all(call().status_code == 200 for _ in range(58))
    clock.advance(45)
    refused = call()
    assert (refused.status_code, refused.json()) == (429, TOO_MANY)
    assert "Retry-After" not in refused.headers
    clock.advance(6)  # T61
    assert call().status_code == 200
    assert call().status_code == 429
    clock.advance(4)  # T65: request 2 is exactly 60 s old, still in the window
    assert call().status_code == 429
    clock.advance(0.5)
    assert call().status_code == 200
    assert fake.refused_count(seed["account_id"]) == 3
    assert fake.in_window(seed["account_id"]) == 60


def test_keys_of_one_account_share_a_window_and_another_account_has_its_own(
    server: RunningServer,
    api: httpx.Client,
    read_only: httpx.Client,
    fake: FakeHuntress,
    seed: dict[str, Any],
) -> None:
    for _ in range(30):
        assert api.get("/v1/agents").status_code == 200
        assert read_only.get("/v1/agents").status_code == 200
    assert api.get("/v1/agents").status_code == 429
    assert read_only.get("/v1/agents").status_code == 429
    other = fake.add_account("Second MSP")
    with client(server, *fake.add_key(other)) as second:
        assert second.get("/v1/account").json()["account"]["id"] == other
        assert second.get("/v1/incident_reports").json()["incident_reports"] == []
        assert (
            second.get(f"/v1/incident_reports/{seed['resolvable_incident_id']}").status_code == 404
        )
    assert fake.refused_count(seed["account_id"]) == 2
    assert fake.refused_count(other) == 0


def test_refusals_are_in_the_request_log_and_counted(
    anon: httpx.Client, api: httpx.Client, fake: FakeHuntress, seed: dict[str, Any]
) -> None:
    fake.configure_rate_limit(limit=3, window=10.0)
    codes = [api.get("/v1/account").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert anon.get("/v1/account").status_code == 401  # not charged to any account
    log = anon.get("/__sandbox/requests", params={"path": "/v1/account"}).json()["requests"]
    assert [(r["status"], r["fault"]) for r in log] == [(200, False)] * 3 + [(429, False)] * 2 + [
        (401, False)
    ]
    assert fake.refused_count(seed["account_id"]) == 2
    state = anon.get("/__sandbox/rate_limit").json()
    assert state["limit"] == 3
    assert state["accounts"][str(seed["account_id"])] == {"in_window": 3, "refused": 2}


def test_retry_after_is_opt_in(clock: ManualClock) -> None:
    fake = FakeHuntress(clock=clock, rate_limit=2, window=30.0, retry_after=True)
    account = fake.add_account("Acme")
    with fake.serve() as running, client(running, *fake.add_key(account)) as c:
        c.get("/v1/account")
        clock.advance(10.5)
        c.get("/v1/account")
        refused = c.get("/v1/account")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "20"  # 19.5 s until the first leaves
        clock.advance(19.5)
        assert c.get("/v1/account").status_code == 429  # exactly 30 s: still in the window
        clock.advance(0.5)
        assert c.get("/v1/account").status_code == 200


def test_time_scale_shrinks_the_window(clock: ManualClock) -> None:
    # In-process (the window logic is the same over HTTP): 60 loopback round trips cost seconds.
    fake = FakeHuntress(clock=clock, time_scale=0.01)
    account = fake.add_account("Bench")
    key, secret = fake.add_key(account)
    with httpx.Client(
        transport=fake.transport(), base_url="http://huntress.test", auth=(key, secret)
    ) as c:
        assert all(c.get("/v1/account").status_code == 200 for _ in range(60))
        assert c.get("/v1/account").status_code == 429
        clock.advance(0.61)  # 61 s of Huntress time
        assert c.get("/v1/account").status_code == 200


def test_a_forced_429_still_works_and_is_not_counted_as_a_refusal(
    anon: httpx.Client, api: httpx.Client, fake: FakeHuntress, seed: dict[str, Any]
) -> None:
    injected = anon.post(
        "/__sandbox/faults",
        json={"status": 429, "body": TOO_MANY, "path": "/v1/incident_reports*", "times": 2},
    )
    assert injected.status_code == 201
    assert api.get("/v1/incident_reports").status_code == 429
    resolvable = seed["resolvable_incident_id"]
    assert api.post(f"/v1/incident_reports/{resolvable}/resolution").status_code == 429
    assert report(api, resolvable)["status"] == "sent"  # the vendor did not act
    log = [(r.status, r.fault) for r in fake.calls(path="/v1/incident_reports*")]
    assert log[:2] == [(429, True), (429, True)]
    assert fake.refused_count(seed["account_id"]) == 0


def test_reset_clears_the_windows(
    anon: httpx.Client, api: httpx.Client, fake: FakeHuntress
) -> None:
    fake.configure_rate_limit(limit=1)
    assert api.get("/v1/account").status_code == 200
    assert api.get("/v1/account").status_code == 429
    assert anon.post("/__sandbox/reset").status_code == 200
    assert api.get("/v1/account").status_code == 200


# -- control surface ----------------------------------------------------------------------------


def test_credentials_route_mints_user_and_read_only_keys(
    server: RunningServer, anon: httpx.Client, seed: dict[str, Any]
) -> None:
    minted = anon.post("/__sandbox/credentials")
    assert minted.status_code == 201
    assert set(minted.json()) == {"api_key", "api_secret"}
    resolvable = f"/v1/incident_reports/{seed['resolvable_incident_id']}/resolution"
    read = anon.post("/__sandbox/credentials", json={"kind": "account"}).json()
    with client(server, read["api_key"], read["api_secret"]) as c:
        assert c.get("/v1/account").json()["account"]["id"] == seed["account_id"]
        assert c.post(resolvable).status_code == 403
    with client(server, minted.json()["api_key"], minted.json()["api_secret"]) as c:
        assert c.post(resolvable).status_code == 201
    assert anon.post("/__sandbox/credentials", json={"kind": "admin"}).status_code == 400
    assert anon.post("/__sandbox/credentials", json={"account_id": 7}).status_code == 404


def test_credentials_route_without_demo_data_makes_the_demo_account(clock: ManualClock) -> None:
    fake = FakeHuntress(clock=clock)
    with fake.serve() as running, client(running) as anon:
        minted = anon.post("/__sandbox/credentials").json()
        with client(running, minted["api_key"], minted["api_secret"]) as c:
            assert c.get("/v1/account").json()["account"]["name"] == "Patchbay Demo MSP"


def test_control_routes_shape_incidents_and_accounts(
    server: RunningServer, anon: httpx.Client, api: httpx.Client, seed: dict[str, Any]
) -> None:
    unsent = seed["unsent_incident_id"]
    moved = anon.post(f"/__sandbox/incident_reports/{unsent}/status", json={"status": "sent"})
    assert (moved.status_code, moved.json()["incident_report"]["status"]) == (200, "sent")
    added = anon.post(
        f"/__sandbox/incident_reports/{unsent}/remediations",
        json={"type": "assisted", "action": "Delete File", "parameters": ["c:\\x.exe"]},
    )
    assert (added.status_code, added.json()["remediation"]["status"]) == (201, "unapproved")
    assert api.post(f"/v1/incident_reports/{unsent}/resolution").status_code == 409
    new = anon.post(
        "/__sandbox/incident_reports",
        json={
            "agent_id": seed["agent_ids"][0],
            "severity": "critical",
            "indicators": {"ai_misuse": 1},
        },
    )
    assert new.status_code == 201
    created = new.json()["incident_report"]
    assert (created["status"], created["indicator_types"]) == ("sent", ["ai_misuse"])
    assert api.post(f"/v1/incident_reports/{created['id']}/resolution").status_code == 201
    assert anon.post("/__sandbox/incident_reports", json={"agent_id": 1}).status_code == 404
    assert (
        anon.post(f"/__sandbox/incident_reports/{unsent}/status", json={"status": "x"}).status_code
        == 400
    )
    assert (
        anon.post("/__sandbox/incident_reports/1/status", json={"status": "sent"}).status_code
        == 404
    )
    tenant = anon.post("/__sandbox/accounts", json={"name": "Tenant Two MSP"})
    assert tenant.status_code == 201
    body = tenant.json()
    with client(server, body["api_key"], body["api_secret"]) as c:
        assert c.get("/v1/account").json()["account"]["id"] == body["account_id"]
    limits = anon.post(
        "/__sandbox/rate_limit", json={"limit": 5, "window": 2.5, "retry_after": True}
    )
    assert limits.json()["limit"] == 5
    assert limits.json()["window"] == 2.5
    assert anon.post("/__sandbox/rate_limit", json={"limit": 0}).status_code == 400


# -- the exported log ---------------------------------------------------------------------------


def test_no_credential_reaches_the_exported_log(
    server: RunningServer, anon: httpx.Client, api: httpx.Client, fake: FakeHuntress
) -> None:
    api.get("/v1/account")
    api.post("/v1/incident_reports/999999/resolution")
    with client(server, CANARY_KEY, "wrong-" + CANARY_SECRET) as wrong:
        assert wrong.get("/v1/agents").status_code == 401
    exported = anon.get("/__sandbox/requests")
    text = exported.text
    token = base64.b64encode(f"{CANARY_KEY}:{CANARY_SECRET}".encode()).decode()
    for secret in (CANARY_KEY, CANARY_SECRET, token):
        assert secret not in text
    requests = exported.json()["requests"]
    assert len(requests) == 3
    assert {r["headers"]["authorization"] for r in requests} == {"Basic ***"}
    assert fake.requests[0].headers["authorization"] == f"Basic {token}"  # kept in memory
