"""``/v1`` route by route over HTTP: the catalog and palette, actions and their schemas,
enqueueing steps (keys, replays, conflicts, validation), reading and long-polling a step,
the ledger's filters and pages, the body limit, and the one error shape.

Auth, scopes and tenant isolation are ``test_auth.py``'s.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from catalog.designer import public_actions
from executor.api import Executor, derive_key
from store.connections import connect
from tests.api.conftest import MAX_BODY, TENANT, ApiUnderTest, assert_error

TICKET = {"title": "Disk full on SRV-DC01", "priority": "high"}


def post_step(
    client: httpx.Client,
    action_id: str,
    input: dict[str, Any],
    *,
    key: str | None = None,
    **extra: Any,
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        "/v1/steps", json={"action_id": action_id, "input": input, **extra}, headers=headers
    )


def settled(client: httpx.Client, key: str) -> dict[str, Any]:
    """The step under ``key`` once final (long-polled)."""
    response = client.get(f"/v1/steps/{key}", params={"wait": 20})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["final"], body
    return body


def ledger(api: ApiUnderTest, tenant: str = TENANT) -> list[dict[str, Any]]:
    """The tenant's whole ledger, as the API pages it."""
    response = api.client(tenant, "read").get("/v1/invocations", params={"limit": 200})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.fixture
def client(api: ApiUnderTest) -> httpx.Client:
    """``acme``'s run-scope client."""
    return api.client()


# -- the designer's catalog and palette --------------------------------------------------


def groups(response: httpx.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tenant_id"] == TENANT
    return {g["group_key"]: g for g in body["groups"]}


def test_catalog_keeps_disconnected_tiles_and_the_palette_drops_them(
    api: ApiUnderTest, client: httpx.Client
) -> None:
    catalog = groups(client.get("/v1/catalog"))
    palette = groups(client.get("/v1/palette"))
    assert catalog["app:ninjaone"]["available"] is False
    assert "app:ninjaone" not in palette
    # Core groups need no connection: listed in both, without an availability flag.
    assert catalog["ticket"]["available"] is None
    assert "tickets.create" in palette["ticket"]["allowed_action_ids"]

    with api.runtime.store.sessions.begin() as session:
        connect(session, TENANT, "ninjaone", instance_url="https://app.ninjarmm.com")

    catalog = groups(client.get("/v1/catalog"))
    palette = groups(client.get("/v1/palette"))
    assert catalog["app:ninjaone"]["available"] is True
    assert palette["app:ninjaone"]["available"] is True
    assert {a["id"] for a in palette["app:ninjaone"]["actions"]} >= {"ninjaone.devices.find"}
    # Nothing else changed: the other vendors stay off both.
    assert catalog["app:levelio"]["available"] is False
    assert "app:levelio" not in palette


# -- actions and their schemas -----------------------------------------------------------


def test_actions_list_every_public_action_without_schemas(
    api: ApiUnderTest, client: httpx.Client
) -> None:
    response = client.get("/v1/actions")
    assert response.status_code == 200, response.text
    listed = {(a["id"], a["version"]): a for a in response.json()}
    assert set(listed) == {(s.id, s.version) for s in public_actions(api.runtime.catalog)}
    create = listed[("tickets.create", 1)]
    assert create["side_effectful"] is True
    assert create["label"] == "Create ticket"
    assert "input_schema" not in create
    assert listed[("ninjaone.devices.find", 1)]["group_key"] == "app:ninjaone"
    assert listed[("ninjaone.devices.find", 1)]["side_effectful"] is False


def test_an_action_has_its_versions_with_the_registered_schemas(
    api: ApiUnderTest, client: httpx.Client
) -> None:
    response = client.get("/v1/actions/tickets.create")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "tickets.create"
    [version] = body["versions"]
    [spec] = public_actions(api.runtime.catalog, "tickets.create")
    assert version["input_schema"] == spec.json_schemas()["input"]
    assert version["output_schema"] == spec.json_schemas()["output"]
    assert "title" in version["input_schema"]["required"]
    assert "ticket" in version["output_schema"]["properties"]


def test_an_unknown_action_is_404_unknown_action(client: httpx.Client) -> None:
    body = assert_error(client.get("/v1/actions/tickets.nope"), 404, "UNKNOWN_ACTION")
    assert body["details"] == {"action_id": "tickets.nope"}


# -- enqueueing steps ----------------------------------------------------------------------


def test_a_step_sent_with_an_idempotency_key_runs_once_and_replays_once_final(
    api: ApiUnderTest, client: httpx.Client
) -> None:
    response = post_step(client, "tickets.create", TICKET, key="disk-full:SRV-DC01")
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert (accepted["key"], accepted["sent"], accepted["replayed"]) == (
        "disk-full:SRV-DC01",
        True,
        False,
    )
    assert response.headers["location"] == accepted["url"] == "/v1/steps/disk-full:SRV-DC01"

    done = settled(client, accepted["key"])
    assert done["status"] == "SUCCEEDED"
    assert done["output"]["ticket"]["title"] == TICKET["title"]
    assert done["input"] == {**done["input"], **TICKET}

    again = post_step(client, "tickets.create", TICKET, key="disk-full:SRV-DC01")
    assert again.status_code == 202, again.text
    replay = again.json()
    assert (replay["sent"], replay["replayed"]) == (False, True)
    assert replay["result"]["status"] == "SUCCEEDED"
    assert replay["result"]["replayed"] is True
    assert replay["result"]["output"] == done["output"]
    # One step, one ticket: the replay ran nothing.
    assert [row["key"] for row in ledger(api)] == ["disk-full:SRV-DC01"]
    found = post_step(client, "tickets.find", {})
    assert found.status_code == 202, found.text
    assert len(settled(client, found.json()["key"])["output"]["tickets"]) == 1


def test_run_id_and_step_path_derive_the_key(client: httpx.Client) -> None:
    response = post_step(
        client, "tickets.create", TICKET, run_id="run-7", step_path="root.steps[0]"
    )
    assert response.status_code == 202, response.text
    key = response.json()["key"]
    assert key == derive_key("run-7", "root.steps[0]", "tickets.create", 1)
    done = settled(client, key)
    assert (done["run_id"], done["step_path"], done["status"]) == (
        "run-7",
        "root.steps[0]",
        "SUCCEEDED",
    )


def test_a_side_effectful_step_without_a_key_is_refused_and_recorded_nowhere(
    api: ApiUnderTest, client: httpx.Client
) -> None:
    assert_error(
        post_step(client, "tickets.create", TICKET),
        422,
        "VALIDATION_ERROR",
        field="idempotency_key",
    )
    # A run id alone derives nothing either.
    assert_error(
        post_step(client, "tickets.create", TICKET, run_id="run-1"),
        422,
        "VALIDATION_ERROR",
        field="idempotency_key",
    )
    assert ledger(api) == []


def test_a_read_only_step_without_a_key_gets_one(client: httpx.Client) -> None:
    response = post_step(client, "tickets.find", {})
    assert response.status_code == 202, response.text
    key = response.json()["key"]
    assert key.startswith("adhoc:")
    assert settled(client, key)["status"] == "SUCCEEDED"


def test_the_same_key_with_another_body_is_409_and_changes_nothing(
    api: ApiUnderTest, client: httpx.Client
) -> None:
    first = post_step(client, "tickets.create", TICKET, key="k-409")
    assert first.status_code == 202, first.text
    settled(client, "k-409")
    body = assert_error(
        post_step(client, "tickets.create", {**TICKET, "priority": "low"}, key="k-409"),
        409,
        "IDEMPOTENCY_CONFLICT",
    )
    assert body["details"] == {"existing_action": "tickets.create@1"}
    # Another action under the key is another body too.
    assert_error(post_step(client, "tickets.find", {}, key="k-409"), 409, "IDEMPOTENCY_CONFLICT")
    [row] = ledger(api)
    assert row["key"] == "k-409"
    assert client.get("/v1/steps/k-409").json()["input"]["priority"] == "high"


@pytest.mark.parametrize(
    ("input", "field"),
    [
        ({"priority": "high"}, "title"),
        ({"title": 5}, "title"),
        ({**TICKET, "priority": "urgent"}, "priority"),
        ({**TICKET, "colour": "red"}, "colour"),
        ({"title": "a\x00b"}, "input.title"),
    ],
    ids=["missing", "wrong-type", "not-a-choice", "unknown-field", "nul"],
)
def test_invalid_input_is_422_naming_the_field_and_nothing_is_recorded(
    api: ApiUnderTest, client: httpx.Client, input: dict[str, Any], field: str
) -> None:
    body = assert_error(
        post_step(client, "tickets.create", input, key="bad-input"),
        422,
        "VALIDATION_ERROR",
        field=field,
    )
    assert body["category"] == "ValidationError"
    assert ledger(api) == []
    assert_error(client.get("/v1/steps/bad-input"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action_id": "tickets.create"}, "input"),
        ({"action_id": "tickets.create", "input": [1]}, "input"),
        ({"action_id": "tickets.create", "input": {}, "extra": 1}, "extra"),
        ({"action_id": "", "input": {}}, "action_id"),
        ({"action_id": "tickets.create", "input": {}, "run_id": "r\n1"}, "run_id"),
        ({"action_id": "tickets.create", "input": {}, "version": 0}, "version"),
    ],
    ids=["no-input", "input-not-object", "unknown-key", "blank-action", "control-char", "v0"],
)
def test_a_malformed_step_request_is_422_naming_the_field(
    api: ApiUnderTest, client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/steps", json=body, headers={"Idempotency-Key": "k"})
    assert_error(response, 422, "VALIDATION_ERROR", field=field)
    assert ledger(api) == []


def test_a_body_that_is_not_json_is_422_naming_the_body(client: httpx.Client) -> None:
    response = client.post(
        "/v1/steps", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 422, "VALIDATION_ERROR", field="body")


def test_an_unknown_action_or_version_is_404(api: ApiUnderTest, client: httpx.Client) -> None:
    assert_error(post_step(client, "tickets.nope", {}, key="k1"), 404, "UNKNOWN_ACTION")
    assert_error(
        post_step(client, "tickets.create", TICKET, key="k2", version=9), 404, "UNKNOWN_ACTION"
    )
    assert ledger(api) == []


# -- reading a step ------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["ticket:acme/disk-full/SRV-01", "a/b//c", "run 1:root[0]:x@1"])
def test_keys_with_colons_and_slashes_are_read_back(client: httpx.Client, key: str) -> None:
    response = post_step(client, "tickets.create", TICKET, key=key)
    assert response.status_code == 202, response.text
    assert response.json()["key"] == key
    done = settled(client, quote(key))
    assert (done["key"], done["status"]) == (key, "SUCCEEDED")
    # Slashes sent encoded name the same step.
    encoded = client.get(f"/v1/steps/{quote(key, safe='')}")
    assert encoded.status_code == 200, encoded.text
    assert encoded.json()["key"] == key


def test_a_derived_key_with_any_text_is_read_back(client: httpx.Client) -> None:
    response = post_step(client, "tickets.create", TICKET, run_id="rün€/1", step_path="stép?#%")
    assert response.status_code == 202, response.text
    key = response.json()["key"]
    assert key == "rün€/1:stép?#%:tickets.create@1"
    # The step's URL (body and Location) names it, encoded.
    url = response.json()["url"]
    assert response.headers["location"] == url
    assert client.get(url, params={"wait": 20}).json()["key"] == key


def test_an_unknown_step_is_404(client: httpx.Client) -> None:
    body = assert_error(client.get("/v1/steps/no/such:step"), 404, "NOT_FOUND")
    assert body["details"] == {"key": "no/such:step"}
    assert_error(client.get("/v1/steps/bad%00key"), 404, "NOT_FOUND")


@pytest.fixture
def queued_key(api: ApiUnderTest) -> str:
    """A ``tickets.create`` step recorded QUEUED whose message is not sent (yet)."""
    pipeline = api.runtime.pipeline
    spec = pipeline.resolve("tickets.create", None)
    data = pipeline.validate_input(spec, TICKET).model_dump(mode="json")
    key = "held:1"
    request = pipeline.claim_request(
        spec, data, tenant_id=TENANT, key=key, run_id=None, step_path=None
    )
    assert pipeline.ledger.record_queued(request) is not None
    return key


def test_a_long_poll_answers_the_step_as_it_is_when_the_wait_is_over(
    client: httpx.Client, queued_key: str
) -> None:
    response = client.get(f"/v1/steps/{queued_key}", params={"wait": 0.3})
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["final"]) == ("QUEUED", False)


def test_a_long_poll_answers_as_soon_as_the_step_is_final(
    api: ApiUnderTest, client: httpx.Client, queued_key: str
) -> None:
    answers: list[httpx.Response] = []
    poll = threading.Thread(
        target=lambda: answers.append(
            api.client("acme", "read").get(f"/v1/steps/{queued_key}", params={"wait": 30})
        )
    )
    poll.start()
    try:
        # Sending the same key and body publishes the queued step; the worker runs it.
        again = post_step(client, "tickets.create", TICKET, key=queued_key)
        assert again.status_code == 202, again.text
        assert again.json()["sent"] is True
    finally:
        poll.join(timeout=25)
    assert not poll.is_alive(), "the long-poll did not answer when the step ended"
    [answer] = answers
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["final"]) == ("SUCCEEDED", True)
    assert answer.json()["output"]["ticket"]["title"] == TICKET["title"]


@pytest.mark.parametrize("wait", ["-1", "30.5", "forever", "nan"])
def test_the_wait_is_bounded(client: httpx.Client, queued_key: str, wait: str) -> None:
    assert_error(
        client.get(f"/v1/steps/{queued_key}", params={"wait": wait}),
        422,
        "VALIDATION_ERROR",
        field="wait",
    )


# -- the ledger ----------------------------------------------------------------------------


@pytest.fixture
def recorded(client: httpx.Client) -> list[dict[str, Any]]:
    """Four final steps of ``acme``: run-1 (two tickets), run-2 (a find), a failed one."""
    sent = [
        post_step(client, "tickets.create", TICKET, run_id="run-1", step_path="open"),
        post_step(client, "tickets.create", {"title": "Second"}, run_id="run-1", step_path="again"),
        post_step(client, "tickets.find", {}, run_id="run-2", step_path="find"),
        # NinjaOne is not connected: the step fails at once.
        post_step(client, "ninjaone.devices.find", {}, key="ninja:1"),
    ]
    for response in sent:
        assert response.status_code == 202, response.text
    return [settled(client, r.json()["key"]) for r in sent]


def page(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/invocations", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def keys(body: dict[str, Any]) -> set[str]:
    return {item["key"] for item in body["items"]}


def test_the_ledger_filters_by_run_action_status_and_time(
    client: httpx.Client, recorded: list[dict[str, Any]]
) -> None:
    by_key = {r["key"]: r for r in recorded}
    assert [r["status"] for r in recorded] == ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FAILED"]
    assert by_key["ninja:1"]["error"]["code"]

    assert keys(page(client)) == set(by_key)
    assert keys(page(client, run_id="run-1")) == {r["key"] for r in recorded[:2]}
    assert keys(page(client, action_id="tickets.find")) == {recorded[2]["key"]}
    assert keys(page(client, status="FAILED")) == {"ninja:1"}
    assert keys(page(client, status=["FAILED", "SUCCEEDED"])) == set(by_key)
    assert keys(page(client, status="CANCELLED")) == set()
    assert keys(page(client, run_id="run-1", action_id="tickets.find")) == set()

    earliest = min(datetime.fromisoformat(r["created_at"]) for r in recorded)
    offset = timedelta(hours=2)
    # Two hours ahead of UTC: read as UTC it would be after every step.
    before = (earliest - timedelta(minutes=1)).astimezone(timezone(offset))
    assert before.utcoffset() == offset
    assert keys(page(client, since=before.isoformat())) == set(by_key)
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert keys(page(client, since=later.isoformat())) == set()
    assert keys(page(client, since=later.isoformat().replace("+00:00", "Z"))) == set()
    # Times beyond what a datetime holds in UTC: before everything, after everything.
    assert keys(page(client, since="0001-01-01T00:00:00+14:00")) == set(by_key)
    assert keys(page(client, since="9999-12-31T23:59:59-14:00")) == set()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-01-01T09:00:00"}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"status": "DONE"}, "status.0"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"offset": -1}, "offset"),
        ({"run_id": ""}, "run_id"),
        ({"action_id": "a\x00b"}, "action_id"),
    ],
)
def test_bad_ledger_filters_are_422_naming_the_field(
    client: httpx.Client, params: dict[str, Any], field: str
) -> None:
    assert_error(client.get("/v1/invocations", params=params), 422, "VALIDATION_ERROR", field=field)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/invocations", {"stauts": "FAILED"}, "stauts"),
        ("/v1/invocations", {"run_id": "r1", "tenant": "globex"}, "tenant"),
        ("/v1/catalog", {"tenant": "globex"}, "tenant"),
        ("/v1/steps/some:key", {"wait": "1", "timeout": "5"}, "timeout"),
    ],
)
def test_an_unknown_query_parameter_is_422_not_ignored(
    client: httpx.Client, path: str, params: dict[str, str], field: str
) -> None:
    assert_error(client.get(path, params=params), 422, "VALIDATION_ERROR", field=field)


def test_the_ledger_pages_newest_first(
    client: httpx.Client, recorded: list[dict[str, Any]]
) -> None:
    first = page(client, limit=3)
    assert (len(first["items"]), first["offset"], first["limit"], first["next_offset"]) == (
        3,
        0,
        3,
        3,
    )
    rest = page(client, limit=3, offset=first["next_offset"])
    assert (len(rest["items"]), rest["next_offset"]) == (1, None)
    items = first["items"] + rest["items"]
    assert {i["key"] for i in items} == {r["key"] for r in recorded}
    created = [i["created_at"] for i in items]
    assert created == sorted(created, reverse=True)
    assert page(client, limit=4)["next_offset"] is None
    assert page(client, offset=10)["items"] == []


# -- the body limit and the error shape ----------------------------------------------------


def oversized() -> bytes:
    return b'{"action_id": "tickets.create", "input": {"title": "' + b"x" * MAX_BODY + b'"}}'


def test_a_body_over_the_limit_is_413_with_a_content_length(
    api: ApiUnderTest, client: httpx.Client
) -> None:
    body = oversized()
    response = client.post(
        "/v1/steps",
        content=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": "big"},
    )
    assert int(response.request.headers["content-length"]) == len(body)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert ledger(api) == []


def test_a_chunked_body_over_the_limit_is_413(api: ApiUnderTest, client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        body = oversized()
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = client.post(
        "/v1/steps",
        content=chunks(),
        headers={"Content-Type": "application/json", "Idempotency-Key": "big"},
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert ledger(api) == []


def test_a_chunked_body_under_the_limit_reaches_the_route(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"action_id": "tickets.create", '
        yield b'"input": {"title": "Chunked"}}'

    response = client.post(
        "/v1/steps",
        content=chunks(),
        headers={"Content-Type": "application/json", "Idempotency-Key": "chunked"},
    )
    assert response.status_code == 202, response.text
    assert settled(client, "chunked")["status"] == "SUCCEEDED"


def test_every_refusal_is_the_error_payload(client: httpx.Client) -> None:
    assert_error(client.get("/v1/nothing-here"), 404, "NOT_FOUND")
    not_allowed = assert_error(client.delete("/v1/steps"), 405, "METHOD_NOT_ALLOWED")
    assert not_allowed["message"]
    assert client.delete("/v1/steps").headers["allow"] == "POST"
    assert_error(client.get("/v1/steps/"), 422, "VALIDATION_ERROR", field="key")


def test_an_unexpected_failure_is_500_internal_error_saying_nothing_more(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("connection to db.internal:5432 refused")

    monkeypatch.setattr(Executor, "invocations", broken)
    body = assert_error(client.get("/v1/invocations"), 500, "INTERNAL_ERROR")
    assert "db.internal" not in body["message"]
    assert "RuntimeError" in body["message"]
