"""``/v1/connections``: a tenant admin connects Level against its fake; secrets go in, never out.

The API serves the real catalog in sandbox mode (so the fake's loopback
``http://`` URL passes the outbound policy), and the connect path is the one
``patchbay connect`` takes: every refusal stores nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from executor.settings import Settings
from sandbox.core import RunningServer
from sandbox.levelio import FakeLevel
from tests.api.conftest import OTHER_TENANT, TENANT, ApiUnderTest, assert_error
from tests.integrations.connect_support import nothing_stored

CANARY_KEY = "LEVEL-CANARY-api-connect-2f9b71c0d4"
WRONG_KEY = "LEVEL-CANARY-wrong-key-88e1a3"
SECRET = "levelio_api_key"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sandbox": True})


@pytest.fixture
def level() -> Iterator[RunningServer]:
    fake = FakeLevel()
    fake.seed_demo()
    fake.add_api_key(CANARY_KEY)
    with fake.serve() as running:
        yield running


def level_tiles(api: ApiUnderTest, tenant: str = TENANT) -> list[str]:
    groups = api.client(tenant, "read").get("/v1/palette").json()["groups"]
    return [g["group_key"] for g in groups if "levelio" in g["group_key"]]


def connect(api: ApiUnderTest, url: str, key: str = CANARY_KEY, **extra: object) -> httpx.Response:
    body = {"url": url, "secrets": {SECRET: key}, **extra}
    return api.client(TENANT, "admin").put("/v1/connections/levelio", json=body)


def test_an_admin_connects_level_and_the_tile_appears(
    api: ApiUnderTest, level: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before = api.client(TENANT, "read").get("/v1/connections/levelio")
    assert before.status_code == 200
    assert before.json()["connected"] is False
    assert before.json()["missing_secrets"] == [SECRET]
    assert level_tiles(api) == []

    response = connect(api, level.base_url)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["secrets_stored"] == [SECRET]
    assert body["check"]["ok"] is True
    assert body["connection"]["connected"] is True
    assert body["connection"]["url"] == level.base_url
    assert {"name": SECRET, "stored": True, "required": True} in body["connection"]["secrets"]
    assert body["connection"]["missing_secrets"] == []
    assert level_tiles(api) == ["app:levelio"]
    # Stored, and readable by the workers (not only by this route).
    stored = api.runtime.store.secrets.get(TENANT, SECRET)
    assert stored is not None and stored.get_secret_value() == CANARY_KEY
    # The value went in and never came out: not in the answer, a listing or a log line.
    listing = api.client(TENANT, "read").get("/v1/connections")
    assert listing.status_code == 200
    assert "levelio" in [c["provider"] for c in listing.json()]
    for text in (response.text, listing.text, caplog.text):
        assert CANARY_KEY not in text
    # The other tenant still has nothing connected.
    other = api.client(OTHER_TENANT, "read").get("/v1/connections/levelio").json()
    assert other["connected"] is False and other["secrets"][0]["stored"] is False
    assert level_tiles(api, OTHER_TENANT) == []


def test_a_key_the_vendor_refuses_stores_nothing_and_is_never_echoed(
    api: ApiUnderTest, level: RunningServer
) -> None:
    response = connect(api, level.base_url, key=WRONG_KEY)

    body = assert_error(response, 422, "CONNECTION_CHECK_FAILED")
    assert "nothing stored" in body["message"]
    assert WRONG_KEY not in response.text
    assert nothing_stored(api.runtime.store, TENANT)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "notaurl", "secrets": {SECRET: CANARY_KEY}}, "url"),
        # A look-alike of Level's host is not Level's host.
        ({"url": "https://api.level.io.attacker.example", "secrets": {SECRET: "x"}}, "url"),
        ({"url": "http://169.254.169.254/", "secrets": {SECRET: "x"}}, "url"),
        ({"url": "URL", "settings": {"colour": "red"}}, "settings.colour"),
        ({"url": "URL", "secrets": {}}, f"secrets.{SECRET}"),
        ({"url": "URL", "secrets": {SECRET: ""}}, f"secrets.{SECRET}"),
        ({"url": "URL", "secrets": {"bad name!": "x"}}, "secrets.bad name!"),
        ({"url": "URL", "secret": {SECRET: "x"}}, "secret"),
        ({"url": "URL", "secrets": {SECRET: 42}}, f"secrets.{SECRET}"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    api: ApiUnderTest, level: RunningServer, body: dict[str, object], field: str
) -> None:
    if body.get("url") == "URL":
        body = {**body, "url": level.base_url}
    response = api.client(TENANT, "admin").put("/v1/connections/levelio", json=body)

    assert_error(response, 422, "VALIDATION_ERROR", field=field)
    assert CANARY_KEY not in response.text
    assert nothing_stored(api.runtime.store, TENANT)
    assert level.app.requests == []  # refused before any request to the vendor


def test_missing_secrets_are_named(api: ApiUnderTest, level: RunningServer) -> None:
    response = api.client(TENANT, "admin").put(
        "/v1/connections/levelio", json={"url": level.base_url}
    )
    body = assert_error(response, 422, "VALIDATION_ERROR", field=f"secrets.{SECRET}")
    assert body["details"]["missing"] == [SECRET]


def test_only_an_admin_token_changes_connections(api: ApiUnderTest, level: RunningServer) -> None:
    body = {"url": level.base_url, "secrets": {SECRET: CANARY_KEY}}
    for scope in ("read", "run"):
        response = api.client(TENANT, scope).put("/v1/connections/levelio", json=body)
        assert_error(response, 403, "FORBIDDEN")
        assert_error(api.client(TENANT, scope).delete("/v1/connections/levelio"), 403, "FORBIDDEN")
    no_token = api.raw_client().put("/v1/connections/levelio", json=body)
    assert_error(no_token, 401, "UNAUTHENTICATED")
    assert_error(api.raw_client().get("/v1/connections"), 401, "UNAUTHENTICATED")
    assert nothing_stored(api.runtime.store, TENANT)


def test_unknown_provider_is_404(api: ApiUnderTest) -> None:
    admin = api.client(TENANT, "admin")
    assert_error(admin.get("/v1/connections/nosuchvendor"), 404, "NOT_FOUND")
    assert_error(admin.put("/v1/connections/nosuchvendor", json={}), 404, "NOT_FOUND")
    assert_error(admin.delete("/v1/connections/nosuchvendor"), 404, "NOT_FOUND")


def test_disconnect_removes_the_tile_and_can_forget_the_secrets(
    api: ApiUnderTest, level: RunningServer
) -> None:
    assert connect(api, level.base_url).status_code == 200
    admin = api.client(TENANT, "admin")

    response = admin.delete("/v1/connections/levelio")
    assert response.status_code == 200, response.text
    assert response.json() == {"provider": "levelio", "disconnected": True, "secrets_deleted": []}
    assert level_tiles(api) == []
    assert api.runtime.store.secrets.names(TENANT) == [SECRET]

    # Reconnecting needs no secret again (it is stored), and keeps the stored URL.
    again = admin.put("/v1/connections/levelio", json={})
    assert again.status_code == 200, again.text
    assert again.json()["connection"]["url"] == level.base_url
    assert again.json()["secrets_stored"] == []
    assert level_tiles(api) == ["app:levelio"]

    forgotten = admin.delete("/v1/connections/levelio", params={"forget_secrets": "true"})
    assert forgotten.json() == {
        "provider": "levelio",
        "disconnected": True,
        "secrets_deleted": [SECRET],
    }
    assert api.runtime.store.secrets.names(TENANT) == []
    twice = admin.delete("/v1/connections/levelio")
    assert twice.json()["disconnected"] is False


def test_another_tenants_admin_cannot_touch_this_tenants_connection(
    api: ApiUnderTest, level: RunningServer
) -> None:
    assert connect(api, level.base_url).status_code == 200
    other = api.client(OTHER_TENANT, "admin")

    assert other.delete("/v1/connections/levelio").json()["disconnected"] is False
    assert level_tiles(api) == ["app:levelio"]
    assert other.get("/v1/connections/levelio").json()["connected"] is False
