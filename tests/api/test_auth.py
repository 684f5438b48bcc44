"""Who may call what: bearer tokens (401), scopes (403), tenants (404), and tokens kept
out of the ledger, the database and every log line."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import httpx
import pytest

from store.connections import connect
from store.models import Base
from store.tokens import list_tokens, revoke_token
from tests.api.conftest import OTHER_TENANT, TENANT, ApiUnderTest, assert_error

TICKET = {"title": "Printer on fire"}
# One request per route (GET /v1/steps/{key} on a key nobody has).
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/catalog", None),
    ("GET", "/v1/palette", None),
    ("GET", "/v1/actions", None),
    ("GET", "/v1/actions/tickets.create", None),
    ("POST", "/v1/steps", {"action_id": "tickets.create", "input": TICKET}),
    ("GET", "/v1/steps/some:key", None),
    ("GET", "/v1/invocations", None),
]


def call(
    client: httpx.Client, method: str, path: str, body: dict[str, Any] | None
) -> httpx.Response:
    headers = {"Idempotency-Key": "auth-probe"} if body is not None else None
    return client.request(method, path, json=body, headers=headers)


def ledger_keys(api: ApiUnderTest, tenant: str) -> list[str]:
    return [row.key for row in api.runtime.pipeline.ledger.list(tenant)]


def revoked_token(api: ApiUnderTest) -> str:
    token = api.token(TENANT, "admin")
    with api.runtime.store.sessions.begin() as session:
        [info] = [t for t in list_tokens(session, TENANT) if t.scope == "admin"]
        assert revoke_token(session, TENANT, info.token_id)
    return token


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic YWNtZTpzZWNyZXQ=",
        "Bearer",
        "Bearer not-a-token",
        "Bearer pb_unknown",
        "revoked",
    ],
    ids=["none", "basic", "empty-bearer", "malformed", "unknown", "revoked"],
)
def test_every_route_is_401_without_a_valid_token(
    api: ApiUnderTest,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    authorization: str | None,
) -> None:
    if authorization == "revoked":
        authorization = f"Bearer {revoked_token(api)}"
    headers = {"Authorization": authorization} if authorization else {}
    response = call(api.raw_client(headers), method, path, body)
    assert_error(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert ledger_keys(api, TENANT) == []


def test_a_revoked_token_worked_until_revoked(api: ApiUnderTest) -> None:
    token = api.token(TENANT, "admin")
    client = api.raw_client({"Authorization": f"Bearer {token}"})
    assert client.get("/v1/actions").status_code == 200
    revoked_token(api)
    assert_error(client.get("/v1/actions"), 401, "UNAUTHENTICATED")
    # The others of the tenant are untouched.
    assert api.client(TENANT, "read").get("/v1/actions").status_code == 200


def test_a_read_token_reads_but_may_not_enqueue(api: ApiUnderTest) -> None:
    reader = api.client(TENANT, "read")
    for method, path, body in ROUTES:
        if method == "GET":
            response = call(reader, method, path, body)
            assert response.status_code in (200, 404), (path, response.text)
    body = assert_error(call(reader, *ROUTES[4]), 403, "FORBIDDEN")
    assert body["details"] == {"scope": "read", "needed": "run"}
    assert ledger_keys(api, TENANT) == []


@pytest.mark.parametrize("scope", ["run", "admin"])
def test_run_and_admin_tokens_enqueue(api: ApiUnderTest, scope: str) -> None:
    response = call(api.client(TENANT, scope), *ROUTES[4])
    assert response.status_code == 202, response.text
    assert ledger_keys(api, TENANT) == ["auth-probe"]


# -- tenants ------------------------------------------------------------------------------


@pytest.fixture
def acme_step(api: ApiUnderTest) -> dict[str, Any]:
    """A finished step of acme's, under a key globex will probe."""
    client = api.client(TENANT)
    response = client.post(
        "/v1/steps",
        json={"action_id": "tickets.create", "input": TICKET, "run_id": "shared-run"},
        headers={"Idempotency-Key": "acme/secret:1"},
    )
    assert response.status_code == 202, response.text
    done: dict[str, Any] = client.get("/v1/steps/acme/secret:1", params={"wait": 20}).json()
    assert done["status"] == "SUCCEEDED"
    return done


def test_another_tenants_step_is_404_like_one_that_does_not_exist(
    api: ApiUnderTest, acme_step: dict[str, Any]
) -> None:
    globex = api.client(OTHER_TENANT, "admin")
    theirs = assert_error(globex.get("/v1/steps/acme/secret:1"), 404, "NOT_FOUND")
    nobodys = assert_error(globex.get("/v1/steps/acme/secret:2"), 404, "NOT_FOUND")
    assert {k: v for k, v in theirs.items() if k not in ("at", "message", "details")} == {
        k: v for k, v in nobodys.items() if k not in ("at", "message", "details")
    }
    # Long-polling it changes nothing.
    assert_error(globex.get("/v1/steps/acme/secret:1", params={"wait": 0.2}), 404, "NOT_FOUND")


def test_another_tenant_never_sees_the_ledger(api: ApiUnderTest, acme_step: dict[str, Any]) -> None:
    globex = api.client(OTHER_TENANT, "admin")
    for params in (
        {},
        {"run_id": "shared-run"},
        {"action_id": "tickets.create"},
        {"status": "SUCCEEDED"},
    ):
        response = globex.get("/v1/invocations", params=params)
        assert response.status_code == 200, response.text
        assert response.json()["items"] == [], params
    # The same key is globex's own step: no conflict with acme's, acme's untouched.
    other = globex.post(
        "/v1/steps",
        json={"action_id": "tickets.create", "input": {"title": "Globex's own"}},
        headers={"Idempotency-Key": "acme/secret:1"},
    )
    assert other.status_code == 202, other.text
    assert (other.json()["tenant_id"], other.json()["sent"]) == (OTHER_TENANT, True)
    mine = globex.get("/v1/steps/acme/secret:1", params={"wait": 20}).json()
    assert mine["output"]["ticket"]["title"] == "Globex's own"
    again = api.client(TENANT).get("/v1/steps/acme/secret:1").json()
    assert again == acme_step


def test_another_tenants_connections_are_not_in_the_catalog(api: ApiUnderTest) -> None:
    with api.runtime.store.sessions.begin() as session:
        connect(session, TENANT, "levelio", instance_url="https://api.level.io")

    def available(tenant: str, path: str) -> dict[str, Any]:
        response = api.client(tenant, "read").get(path)
        assert response.status_code == 200, response.text
        assert response.json()["tenant_id"] == tenant
        return {g["group_key"]: g.get("available") for g in response.json()["groups"]}

    assert available(TENANT, "/v1/catalog")["app:levelio"] is True
    assert "app:levelio" in available(TENANT, "/v1/palette")
    assert available(OTHER_TENANT, "/v1/catalog")["app:levelio"] is False
    assert "app:levelio" not in available(OTHER_TENANT, "/v1/palette")


# -- tokens stay secret -------------------------------------------------------------------


def database_text(api: ApiUnderTest) -> str:
    """Every row of every table, as text."""
    parts: list[str] = []
    with api.runtime.store.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            parts.extend(repr(tuple(row)) for row in conn.execute(table.select()))
    return "\n".join(parts)


def test_tokens_never_reach_the_ledger_the_database_or_the_logs(
    api: ApiUnderTest, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own loggers do not propagate: let them reach caplog too.
        logging.getLogger(name).propagate = True
    canary = api.token(TENANT, "run")
    bad = "pb_CANARY" + secrets.token_urlsafe(24)
    try:
        good = api.client(TENANT, "run")
        response = good.post(
            "/v1/steps",
            json={"action_id": "tickets.create", "input": TICKET},
            headers={"Idempotency-Key": "canary:1"},
        )
        assert response.status_code == 202, response.text
        assert good.get("/v1/steps/canary:1", params={"wait": 20}).json()["status"] == "SUCCEEDED"
        assert good.get("/v1/invocations").status_code == 200
        assert_error(
            good.post(
                "/v1/steps",
                json={"action_id": "tickets.create", "input": {}},
                headers={"Idempotency-Key": "canary:2"},
            ),
            422,
            "VALIDATION_ERROR",
        )
        assert_error(api.client(TENANT, "read").post("/v1/steps", json={}), 403, "FORBIDDEN")
        for authorization in (f"Bearer {bad}", f"Basic {bad}", bad):
            probe = api.raw_client({"Authorization": authorization})
            body = assert_error(probe.get("/v1/catalog"), 401, "UNAUTHENTICATED")
            assert bad not in str(body)
        assert_error(
            api.raw_client({"Authorization": f"Bearer {bad}"}).post("/v1/steps", json={}),
            401,
            "UNAUTHENTICATED",
        )
    finally:
        for name in ("uvicorn", "uvicorn.access"):
            logging.getLogger(name).propagate = False
    assert caplog.records, "nothing was logged: the capture is not looking"
    out, err = capfd.readouterr()
    for secret in (canary, bad):
        assert secret not in caplog.text
        assert secret not in out + err
        assert secret not in database_text(api)
    # The ledger holds the step, not who sent it.
    assert ledger_keys(api, TENANT) == ["canary:1"]


def test_the_token_and_scope_are_checked_before_the_body_is_read(api: ApiUnderTest) -> None:
    def send_garbage(client: httpx.Client) -> httpx.Response:
        return client.post(
            "/v1/steps", content=b"{not json", headers={"Content-Type": "application/json"}
        )

    assert_error(send_garbage(api.raw_client()), 401, "UNAUTHENTICATED")
    assert_error(send_garbage(api.client(TENANT, "read")), 403, "FORBIDDEN")
    assert_error(send_garbage(api.client(TENANT, "run")), 422, "VALIDATION_ERROR", field="body")
