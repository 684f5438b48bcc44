"""FakeLevel over real HTTP: auth, paging, filters, resolve, triggers, runs, 429s, webhooks."""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.core import FakeVendor, ManualClock, RunningServer, SandboxRequest, route
from sandbox.levelio import FakeLevel

CANARY_KEY = "CANARY-level-key-must-never-be-logged-0001"
ACCESS_DENIED = {"error": "Access denied"}
READ_ONLY = {"error": "This API key is read-only"}
START_DELAY, DURATION = 5.0, 30.0
SECRET = "whsec-demo-secret"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def seeded(clock: ManualClock) -> tuple[FakeLevel, dict[str, Any]]:
    level = FakeLevel(clock=clock, run_start_delay=START_DELAY, run_duration=DURATION)
    seed = level.seed_demo()
    level.add_api_key(CANARY_KEY)
    return level, seed


@pytest.fixture
def fake(seeded: tuple[FakeLevel, dict[str, Any]]) -> FakeLevel:
    return seeded[0]


@pytest.fixture
def seed(seeded: tuple[FakeLevel, dict[str, Any]]) -> dict[str, Any]:
    return seeded[1]


@pytest.fixture
def server(fake: FakeLevel) -> Iterator[RunningServer]:
    with fake.serve() as running:
        yield running


@pytest.fixture
def anon(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url) as client:
        yield client


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers={"Authorization": CANARY_KEY}) as client:
        yield client


@pytest.fixture
def read_only(server: RunningServer, seed: dict[str, Any]) -> Iterator[httpx.Client]:
    headers = {"Authorization": seed["read_only_key"]}
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        yield client


def ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["data"]]


def walk(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a cursor list, following ``starting_after``."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"starting_after": cursor} if cursor else {})}
        page = client.get(path, params=query).json()
        items += page["data"]
        if not page["has_more"]:
            return items
        cursor = page["data"][-1]["id"]


def expected_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- auth ------------------------------------------------------------------------------


def test_every_v2_call_needs_a_raw_key_in_authorization(anon: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "wrong"}, {"Authorization": f"Bearer {CANARY_KEY}"}):
        refused = anon.get("/v2/devices", headers=headers)
        assert (refused.status_code, refused.json()) == (401, ACCESS_DENIED)
    # Authentication comes before routing.
    assert anon.get("/v2/no-such-thing").status_code == 401
    assert anon.get("/v2/devices", headers={"Authorization": CANARY_KEY}).status_code == 200


def test_a_read_only_key_reads_but_every_write_is_403(
    read_only: httpx.Client, seed: dict[str, Any], fake: FakeLevel
) -> None:
    assert read_only.get("/v2/alerts").status_code == 200
    refused = read_only.post(f"/v2/alerts/{seed['alert_ids'][0]}/resolve")
    assert (refused.status_code, refused.json()) == (403, READ_ONLY)
    trigger = read_only.post(f"/v2/automations/webhooks/{seed['auth_webhook_token']}", json={})
    assert (trigger.status_code, trigger.json()) == (403, READ_ONLY)
    assert ids(read_only.get("/v2/alerts", params={"status": "active"})) == seed["alert_ids"]
    assert fake.runs == []


def test_the_request_log_never_exports_a_key(
    api: httpx.Client, anon: httpx.Client, seed: dict[str, Any]
) -> None:
    api.get("/v2/devices")
    api.post(f"/v2/automations/webhooks/{seed['auth_webhook_token']}", json={})
    exported = anon.get("/__sandbox/requests")
    assert CANARY_KEY not in exported.text
    logged = exported.json()["requests"]
    assert [r["headers"]["authorization"] for r in logged] == ["***", "***"]


# -- paging ------------------------------------------------------------------------------


def test_limit_is_1_to_100_with_a_default_of_20(api: httpx.Client) -> None:
    assert len(ids(api.get("/v2/automations"))) == 20
    assert len(ids(api.get("/v2/automations", params={"limit": 100}))) == 30
    assert len(ids(api.get("/v2/automations", params={"limit": 1}))) == 1
    for bad in ("0", "101", "-1", "ten", ""):
        refused = api.get("/v2/devices", params={"limit": bad})
        assert refused.status_code == 400
        assert refused.json() == {"error": "limit must be an integer between 1 and 100"}


def test_cursors_walk_forward_and_back(api: httpx.Client, seed: dict[str, Any]) -> None:
    every = seed["device_ids"]
    first = api.get("/v2/devices", params={"limit": 2}).json()
    assert ([d["id"] for d in first["data"]], first["has_more"]) == (every[:2], True)
    after = api.get("/v2/devices", params={"limit": 2, "starting_after": every[1]}).json()
    assert ([d["id"] for d in after["data"]], after["has_more"]) == (every[2:], False)
    before = api.get("/v2/devices", params={"limit": 2, "ending_before": every[3]}).json()
    assert ([d["id"] for d in before["data"]], before["has_more"]) == (every[1:3], True)
    start = api.get("/v2/devices", params={"limit": 2, "ending_before": every[2]}).json()
    assert ([d["id"] for d in start["data"]], start["has_more"]) == (every[:2], False)
    assert [d["id"] for d in walk(api, "/v2/devices", limit=1)] == every
    both = api.get("/v2/devices", params={"starting_after": every[0], "ending_before": every[3]})
    assert both.status_code == 400
    unknown = api.get("/v2/devices", params={"starting_after": "dev_999"})
    assert (unknown.status_code, unknown.json()) == (400, {"error": "No such object: dev_999"})


def test_the_webhook_list_is_longer_than_one_default_page(
    api: httpx.Client, seed: dict[str, Any], server: RunningServer
) -> None:
    page = api.get("/v2/automations/webhooks").json()
    assert (len(page["data"]), page["has_more"]) == (20, True)
    hooks = walk(api, "/v2/automations/webhooks")
    assert len(hooks) == len(seed["webhook_tokens"]) > 20
    assert [h["url"].rsplit("/", 1)[1] for h in hooks] == seed["webhook_tokens"]
    assert hooks[0]["url"].startswith(f"{server.base_url}/v2/automations/webhooks/")
    assert set(hooks[0]) == {
        "id",
        "url",
        "automation_id",
        "automation_name",
        "requires_authorization_header",
        "parameters",
    }
    assert hooks[0]["parameters"] == ["device_ids"]
    assert [h["requires_authorization_header"] for h in hooks].count(True) == 1
    # Some automations have no webhook trigger.
    automations = walk(api, "/v2/automations")
    assert {a["id"] for a in automations} > {h["automation_id"] for h in hooks}


def test_the_webhook_list_can_be_served_as_a_bare_array(
    api: httpx.Client, anon: httpx.Client, seed: dict[str, Any]
) -> None:
    switched = anon.post("/__sandbox/switches", json={"webhook_list": "array"})
    assert switched.json()["webhook_list"] == "array"
    bare = api.get("/v2/automations/webhooks").json()
    assert isinstance(bare, list)
    assert len(bare) == len(seed["webhook_tokens"])


# -- devices -------------------------------------------------------------------------------


def test_group_id_is_direct_and_ancestor_group_id_is_recursive(
    api: httpx.Client, seed: dict[str, Any]
) -> None:
    contoso, main, front, fabrikam = seed["group_ids"]
    server, laptop, mac, nas = seed["device_ids"]
    assert ids(api.get("/v2/devices", params={"group_id": contoso})) == [mac]
    assert ids(api.get("/v2/devices", params={"ancestor_group_id": contoso})) == [
        server,
        laptop,
        mac,
    ]
    assert ids(api.get("/v2/devices", params={"ancestor_group_id": main})) == [server, laptop]
    assert ids(api.get("/v2/devices", params={"group_id": front})) == [laptop]
    assert ids(api.get("/v2/devices", params={"ancestor_group_id": fabrikam})) == [nas]
    assert ids(api.get("/v2/devices", params={"ancestor_group_id": "grp_404"})) == []
    groups = api.get("/v2/groups").json()["data"]
    assert [(g["id"], g["parent_id"]) for g in groups] == [
        (contoso, None),
        (main, contoso),
        (front, main),
        (fabrikam, None),
    ]


def test_nested_objects_appear_only_when_included(api: httpx.Client, seed: dict[str, Any]) -> None:
    path = f"/v2/devices/{seed['device_ids'][2]}"
    plain = api.get(path).json()
    assert "operating_system" not in plain
    assert "security" not in plain
    assert plain["platform"] == "Mac"
    assert plain["online"] is False
    with_os = api.get(path, params={"include_operating_system": "true"}).json()
    assert with_os["operating_system"]["full_operating_system"] == "macOS Sonoma 14.4.1"
    assert "security" not in with_os
    both = api.get(path, params={"include_operating_system": "true", "include_security": "true"})
    assert set(both.json()) >= {"operating_system", "security"}
    listed = api.get("/v2/devices", params={"include_security": "true"}).json()["data"]
    assert all("security" in d and "operating_system" not in d for d in listed)
    assert {d["platform"] for d in listed} == {"Windows", "Mac", "Linux"}
    missing = api.get("/v2/devices/dev_404")
    assert (missing.status_code, missing.json()) == (404, {"error": "Device not found"})


# -- alerts and updates ----------------------------------------------------------------------


def test_alert_filters(api: httpx.Client, seed: dict[str, Any]) -> None:
    assert ids(api.get("/v2/alerts", params={"status": "active"})) == seed["alert_ids"]
    assert ids(api.get("/v2/alerts", params={"status": "resolved"})) == seed["resolved_alert_ids"]
    laptop = seed["device_ids"][1]
    assert ids(api.get("/v2/alerts", params={"device_id": laptop})) == seed["alert_ids"][1:]
    assert api.get("/v2/alerts", params={"status": "open"}).status_code == 400
    alert = api.get("/v2/alerts").json()["data"][0]
    assert set(alert) == {
        "id",
        "device_id",
        "device_hostname",
        "name",
        "description",
        "severity",
        "is_resolved",
        "started_at",
        "resolved_at",
    }
    assert (alert["severity"], alert["device_hostname"]) == ("critical", "CONTOSO-DC01")


def test_resolve_flips_the_alert_and_is_idempotent(
    api: httpx.Client, seed: dict[str, Any], clock: ManualClock
) -> None:
    alert_id = seed["alert_ids"][0]
    resolved = api.post(f"/v2/alerts/{alert_id}/resolve")
    assert resolved.status_code == 200
    assert resolved.json()["is_resolved"] is True
    stamp = resolved.json()["resolved_at"]
    assert stamp is not None
    assert ids(api.get("/v2/alerts", params={"status": "active"})) == seed["alert_ids"][1:]
    clock.advance(60)
    again = api.post(f"/v2/alerts/{alert_id}/resolve")
    assert (again.status_code, again.json()["resolved_at"]) == (200, stamp)
    missing = api.post("/v2/alerts/alr_404/resolve")
    assert (missing.status_code, missing.json()) == (404, {"error": "Alert not found"})


def test_update_filters(api: httpx.Client, seed: dict[str, Any]) -> None:
    server = seed["device_ids"][0]
    assert len(ids(api.get("/v2/updates"))) == len(seed["update_ids"])
    assert len(ids(api.get("/v2/updates", params={"device_id": server}))) == 2
    available = api.get("/v2/updates", params={"status": "available"}).json()["data"]
    installed = api.get("/v2/updates", params={"status": "installed"}).json()["data"]
    assert all(u["is_available"] and u["installed_on"] is None for u in available)
    assert all(not u["is_available"] and u["installed_on"] for u in installed)
    assert len(available) + len(installed) == len(seed["update_ids"])
    assert api.get("/v2/updates", params={"status": "pending"}).status_code == 400


# -- triggers and runs -------------------------------------------------------------------------


def test_trigger_unknown_token_and_authorization_header(
    anon: httpx.Client, api: httpx.Client, seed: dict[str, Any], fake: FakeLevel
) -> None:
    missing = anon.post("/v2/automations/webhooks/not-a-token", json={})
    assert (missing.status_code, missing.json()) == (404, {"error": "Webhook not found"})
    guarded = f"/v2/automations/webhooks/{seed['auth_webhook_token']}"
    refused = anon.post(guarded, json={})
    assert (refused.status_code, refused.json()) == (401, ACCESS_DENIED)
    assert anon.post(guarded, json={}, headers={"Authorization": "nope"}).status_code == 401
    assert api.post(guarded, json={}).status_code == 200
    # A trigger without the option takes no key: its token is the secret.
    open_token = next(t for t in seed["webhook_tokens"] if t != seed["auth_webhook_token"])
    assert anon.post(f"/v2/automations/webhooks/{open_token}").status_code == 200
    fake.delete_webhook_trigger(open_token)
    assert anon.post(f"/v2/automations/webhooks/{open_token}").status_code == 404


def test_a_trigger_creates_one_run_per_device_that_progresses_on_the_clock(
    api: httpx.Client, seed: dict[str, Any], clock: ManualClock
) -> None:
    token, devices = seed["webhook_tokens"][0], seed["device_ids"][:2]
    fired = api.post(f"/v2/automations/webhooks/{token}", json={"device_ids": devices})
    assert (fired.status_code, fired.content) == (200, b"")  # the default: an empty body
    runs = api.get("/v2/automation-runs", params={"automation_id": seed["automation_ids"][0]})
    listed = runs.json()["data"]
    assert [r["device_id"] for r in listed] == devices[::-1]  # newest first
    run_id = listed[-1]["id"]
    run = api.get(f"/v2/automation-runs/{run_id}").json()
    assert (run["status"], run["started_at"], run["ended_at"]) == ("pending", None, None)
    assert "steps" not in run
    clock.advance(START_DELAY + 1)
    running = api.get(f"/v2/automation-runs/{run_id}", params={"include_steps": "true"}).json()
    assert running["status"] == "running"
    assert running["started_at"] is not None
    assert [s["status"] for s in running["steps"]] == ["running", "pending", "pending"]
    clock.advance(DURATION / 3)
    later = api.get(f"/v2/automation-runs/{run_id}", params={"include_steps": "true"}).json()
    assert [s["status"] for s in later["steps"]] == ["success", "running", "pending"]
    clock.advance(DURATION)
    done = api.get(f"/v2/automation-runs/{run_id}", params={"include_steps": "true"}).json()
    assert done["status"] == "success"
    assert done["ended_at"] is not None
    assert {s["status"] for s in done["steps"]} == {"success"}
    assert "steps" not in api.get(f"/v2/automation-runs/{run_id}").json()
    device_runs = api.get("/v2/automation-runs", params={"device_id": devices[0]})
    assert ids(device_runs) == [run_id]
    missing = api.get("/v2/automation-runs/run_404")
    assert (missing.status_code, missing.json()) == (404, {"error": "Automation run not found"})


def test_a_trigger_without_devices_makes_one_run_and_bad_bodies_are_400(
    api: httpx.Client, seed: dict[str, Any], fake: FakeLevel
) -> None:
    path = f"/v2/automations/webhooks/{seed['webhook_tokens'][1]}"
    assert api.post(path, json={}).status_code == 200
    assert [r.device_id for r in fake.runs] == [None]
    bad_bodies: list[Any] = [[], {"device_ids": "dev_1"}, {"device_ids": ["dev_404"]}]
    for body in bad_bodies:
        assert api.post(path, json=body).status_code == 400
    text = api.post(path, content=b"not json", headers={"Content-Type": "text/plain"})
    assert text.status_code == 400
    assert len(fake.runs) == 1


def test_the_trigger_body_is_a_switch(
    api: httpx.Client, anon: httpx.Client, seed: dict[str, Any]
) -> None:
    path = f"/v2/automations/webhooks/{seed['webhook_tokens'][0]}"
    devices = seed["device_ids"][:2]
    anon.post("/__sandbox/switches", json={"trigger_body": "run"})
    answer = api.post(path, json={"device_ids": devices}).json()
    assert answer["run_ids"][0] == answer["run_id"]
    assert len(answer["run_ids"]) == 2
    assert api.get(f"/v2/automation-runs/{answer['run_id']}").json()["device_id"] == devices[0]
    anon.post("/__sandbox/switches", json={"trigger_body": "ok"})
    assert api.post(path, json={}).json() == {"success": True}
    assert anon.post("/__sandbox/switches", json={"trigger_body": "maybe"}).status_code == 400


def test_runs_can_be_made_to_fail(
    api: httpx.Client, anon: httpx.Client, seed: dict[str, Any], clock: ManualClock
) -> None:
    anon.post("/__sandbox/switches", json={"trigger_body": "run"})
    path = f"/v2/automations/webhooks/{seed['webhook_tokens'][0]}"
    # An automation's new runs...
    set_failed = anon.post(
        "/__sandbox/runs/outcome",
        json={"outcome": "failed", "automation_id": seed["automation_ids"][0]},
    )
    assert set_failed.status_code == 200
    failing = api.post(path, json={}).json()["run_id"]
    # ...or one run in flight.
    other = f"/v2/automations/webhooks/{seed['webhook_tokens'][1]}"
    in_flight = api.post(other, json={}).json()["run_id"]
    one = anon.post("/__sandbox/runs/outcome", json={"outcome": "failed", "run_id": in_flight})
    assert one.status_code == 200
    clock.advance(START_DELAY + DURATION)
    for run_id in (failing, in_flight):
        run = api.get(f"/v2/automation-runs/{run_id}", params={"include_steps": "true"}).json()
        assert run["status"] == "failed"
        assert [s["status"] for s in run["steps"]] == ["success", "success", "failed"]
    ended = anon.post("/__sandbox/runs/outcome", json={"outcome": "success", "run_id": failing})
    assert ended.status_code == 409


# -- 429 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "http_date", "expected"),
    [(7, False, "7"), (0, False, "0"), (None, False, None), (30, True, "date")],
)
def test_forced_429s_carry_the_chosen_retry_after(
    api: httpx.Client,
    anon: httpx.Client,
    fake: FakeLevel,
    retry_after: int | None,
    http_date: bool,
    expected: str | None,
) -> None:
    body: dict[str, Any] = {"times": 4, "retry_after": retry_after, "path": "/v2/devices"}
    if http_date:
        body["retry_after_http_date"] = True
    assert anon.post("/__sandbox/rate_limit", json=body).status_code == 201
    answers = [api.get("/v2/devices") for _ in range(5)]
    assert [a.status_code for a in answers] == [429, 429, 429, 429, 200]
    limited = answers[0]
    assert limited.json() == {"error": "Too many requests"}
    if expected is None:
        assert "Retry-After" not in limited.headers
    elif expected == "date":
        when = email.utils.parsedate_to_datetime(limited.headers["Retry-After"])
        assert abs(when.timestamp() - (fake.epoch() + 30)) <= 1
    else:
        assert limited.headers["Retry-After"] == expected
    # Other routes were not affected.
    assert api.get("/v2/alerts").status_code == 200


def test_a_malformed_rate_limit_request_is_400(anon: httpx.Client) -> None:
    assert anon.post("/__sandbox/rate_limit", json={"times": 0}).status_code == 400
    assert anon.post("/__sandbox/rate_limit", json={"retry_after": -1}).status_code == 400


# -- outbound webhooks -------------------------------------------------------------------------


class Receiver(FakeVendor):
    """A webhook receiver: records what it is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[bytes, dict[str, str]]] = []

    @route("POST", "/hooks/level")
    def hook(self, req: SandboxRequest) -> httpx.Response:
        self.received.append((req.content, {k.lower(): v for k, v in req.headers.items()}))
        return httpx.Response(204)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, RunningServer]]:
    app = Receiver()
    with app.serve() as running:
        yield app, running


def test_a_webhook_is_signed_like_level(fake: FakeLevel, seed: dict[str, Any]) -> None:
    alert_id = seed["alert_ids"][0]
    body, headers = fake.webhook("alert_active", alert_id, secret=SECRET)
    assert headers["X-Level-Signature"] == expected_signature(SECRET, body)
    assert "X-Level-Timestamp" not in headers
    event = json.loads(body)
    assert set(event) == {"event_type", "event_id", "occurred_at", "data"}
    assert event["event_type"] == "alert_active"
    assert event["occurred_at"].endswith("Z")
    assert (event["data"]["id"], event["data"]["is_resolved"]) == (alert_id, False)
    unsigned, bare = fake.webhook("alert_resolved", alert_id, secret=None)
    assert "X-Level-Signature" not in bare
    assert json.loads(unsigned)["event_id"] != event["event_id"]
    _, stamped = fake.webhook("alert_active", alert_id, secret=SECRET, timestamp_header=True)
    assert int(stamped["X-Level-Timestamp"]) == int(fake.epoch())
    with pytest.raises(ValueError, match="event_type"):
        fake.webhook("device_created", alert_id, secret=SECRET)


def test_send_webhook_posts_the_signed_event(
    fake: FakeLevel, seed: dict[str, Any], receiver: tuple[Receiver, RunningServer]
) -> None:
    app, running = receiver
    delivery = fake.send_webhook(
        f"{running.base_url}/hooks/level", "alert_active", seed["alert_ids"][1], secret=SECRET
    )
    assert delivery.status == 204
    [(body, headers)] = app.received
    assert body == delivery.body
    assert headers["x-level-signature"] == expected_signature(SECRET, body)
    assert headers["content-type"] == "application/json"


def test_resolving_and_raising_alerts_emit_events_to_subscribers(
    api: httpx.Client,
    anon: httpx.Client,
    seed: dict[str, Any],
    fake: FakeLevel,
    receiver: tuple[Receiver, RunningServer],
) -> None:
    app, running = receiver
    subscribed = anon.post(
        "/__sandbox/webhooks", json={"url": f"{running.base_url}/hooks/level", "secret": SECRET}
    )
    assert subscribed.status_code == 201
    api.post(f"/v2/alerts/{seed['alert_ids'][0]}/resolve")
    api.post(f"/v2/alerts/{seed['alert_ids'][0]}/resolve")  # already resolved: no second event
    raised = anon.post(
        "/__sandbox/alerts",
        json={"device_id": seed["device_ids"][3], "name": "RAID degraded", "severity": "emergency"},
    )
    assert raised.status_code == 201
    new_alert = raised.json()
    events = [json.loads(body) for body, _ in app.received]
    assert [(e["event_type"], e["data"]["id"]) for e in events] == [
        ("alert_resolved", seed["alert_ids"][0]),
        ("alert_active", new_alert["id"]),
    ]
    assert events[0]["data"]["is_resolved"] is True
    for body, headers in app.received:
        assert headers["x-level-signature"] == expected_signature(SECRET, body)
    assert [d.status for d in fake.deliveries] == [204, 204]
    listed = ids(api.get("/v2/alerts", params={"status": "active"}))
    assert new_alert["id"] in listed
    bad = anon.post("/__sandbox/alerts", json={"device_id": "dev_404", "name": "x"})
    assert bad.status_code == 404


def test_python_calls_deliver_at_once_through_the_webhook_transport(clock: ManualClock) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    level = FakeLevel(clock=clock, webhook_transport=httpx.MockTransport(record))
    seed = level.seed_demo()
    level.add_webhook_endpoint("https://patchbay.test/hooks", event_types={"alert_resolved"})
    level.add_alert(seed["device_ids"][0], "Not wanted", emit=True)
    assert sent == []  # this endpoint only wants alert_resolved
    level.resolve_alert(seed["alert_ids"][1])
    [request] = sent
    assert str(request.url) == "https://patchbay.test/hooks"
    assert "X-Level-Signature" not in request.headers  # no secret, no signature
    assert json.loads(request.content)["data"]["id"] == seed["alert_ids"][1]
    assert [d.status for d in level.deliveries] == [200]


# -- credentials -----------------------------------------------------------------------------


def test_minted_keys_read_and_write_unless_read_only(
    anon: httpx.Client, seed: dict[str, Any]
) -> None:
    minted = anon.post("/__sandbox/credentials")
    assert minted.status_code == 201
    assert list(minted.json()) == ["api_key"]
    key = minted.json()["api_key"]
    viewer = anon.post("/__sandbox/credentials", json={"write": False}).json()["api_key"]
    assert key not in {viewer, seed["api_key"], seed["read_only_key"]}
    alert_path = f"/v2/alerts/{seed['alert_ids'][0]}/resolve"
    assert anon.get("/v2/alerts", headers={"Authorization": viewer}).status_code == 200
    assert anon.post(alert_path, headers={"Authorization": viewer}).status_code == 403
    assert anon.post(alert_path, headers={"Authorization": key}).status_code == 200
    logged = anon.get("/__sandbox/requests").text
    assert key not in logged
    assert viewer not in logged


def test_the_seed_has_what_a_tenant_needs(seed: dict[str, Any]) -> None:
    assert set(seed) == {
        "api_key",
        "read_only_key",
        "group_ids",
        "device_ids",
        "alert_ids",
        "resolved_alert_ids",
        "update_ids",
        "automation_ids",
        "webhook_tokens",
        "auth_webhook_token",
    }
    assert (len(seed["device_ids"]), len(seed["alert_ids"])) == (4, 2)
    assert len(seed["automation_ids"]) > len(seed["webhook_tokens"]) > 20
    assert seed["auth_webhook_token"] in seed["webhook_tokens"]
