"""FakeWidgets: auth, widgets, paging, validation, jobs, and the sliding-window rate limit."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.core import Fault, ManualClock
from sandbox.widgets import FakeWidgets

KEY_A, KEY_B = "wk-alpha-1234", "wk-bravo-5678"
INVALID_KEY = {"error": "invalid_api_key", "message": "The API key is not valid."}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> FakeWidgets:
    return FakeWidgets(
        {KEY_A: "acct-a", KEY_B: "acct-b"},
        clock=clock,
        job_duration=5.0,
        epoch_origin=1_800_000_000.0,
    )


def client_for(fake: FakeWidgets, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(transport=fake.transport(), base_url="http://widgets.test", headers=headers)


@pytest.fixture
def a(fake: FakeWidgets) -> Iterator[httpx.Client]:
    with client_for(fake, KEY_A) as c:
        yield c


@pytest.fixture
def b(fake: FakeWidgets) -> Iterator[httpx.Client]:
    with client_for(fake, KEY_B) as c:
        yield c


# -- auth -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Basic {KEY_A}"},
        {"Authorization": "Bearer"},
    ],
)
def test_missing_or_unknown_key_is_401(fake: FakeWidgets, headers: dict[str, str]) -> None:
    with client_for(fake, None) as c:
        response = c.get("/v1/widgets", headers=headers)
    assert response.status_code == 401
    assert response.json() == INVALID_KEY
    assert "nope" not in response.text


def test_keys_added_later_work(fake: FakeWidgets) -> None:
    fake.add_api_key("late-key", "acct-late")
    with client_for(fake, "late-key") as c:
        assert c.post("/v1/widgets", json={"name": "x"}).json()["account"] == "acct-late"


# -- widgets --------------------------------------------------------------------


def test_create_and_get_a_widget(fake: FakeWidgets, a: httpx.Client, clock: ManualClock) -> None:
    clock.advance(60)
    created = a.post("/v1/widgets", json={"name": "Sprocket", "color": "red", "extra": 1})
    assert created.status_code == 201
    assert created.json() == {
        "id": "w_1",
        "account": "acct-a",
        "name": "Sprocket",
        "color": "red",
        "created_at": "2027-01-15T08:01:00Z",
    }
    assert a.get("/v1/widgets/w_1").json() == created.json()
    assert fake.widgets_created() == [created.json()]
    assert fake.count("POST", "/v1/widgets") == 1


def test_color_is_optional(a: httpx.Client) -> None:
    assert a.post("/v1/widgets", json={"name": "Plain"}).json()["color"] is None
    assert a.post("/v1/widgets", json={"name": "Null", "color": None}).status_code == 201


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "name", "name is required."),
        ({"name": ""}, "name", "name must be 1 to 200 characters."),
        ({"name": "x" * 201}, "name", "name must be 1 to 200 characters."),
        ({"name": 7}, "name", "name must be a string."),
        ({"name": "ok", "color": 3}, "color", "color must be a string."),
        (["name"], "body", "The request body must be a JSON object."),
    ],
)
def test_create_validation_errors(
    fake: FakeWidgets, a: httpx.Client, body: object, field: str, message: str
) -> None:
    response = a.post("/v1/widgets", json=body)
    assert response.status_code == 422
    assert response.json() == {"error": "validation_error", "message": message, "field": field}
    assert fake.widgets_created() == []


def test_non_json_body_is_a_validation_error(a: httpx.Client) -> None:
    response = a.post("/v1/widgets", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 422
    assert response.json()["field"] == "body"
    assert (
        a.post(
            "/v1/widgets", content=b"{broken", headers={"Content-Type": "application/json"}
        ).status_code
        == 422
    )


def test_name_of_exactly_200_characters_is_fine(a: httpx.Client) -> None:
    assert a.post("/v1/widgets", json={"name": "x" * 200}).status_code == 201


def test_accounts_do_not_see_each_others_widgets(
    fake: FakeWidgets, a: httpx.Client, b: httpx.Client
) -> None:
    a.post("/v1/widgets", json={"name": "mine"})
    b.post("/v1/widgets", json={"name": "theirs"})
    hidden = b.get("/v1/widgets/w_1")
    assert hidden.status_code == 404
    assert hidden.json() == {"error": "not_found", "message": "Widget w_1 not found"}
    assert [w["name"] for w in b.get("/v1/widgets").json()["data"]] == ["theirs"]
    assert [w["name"] for w in fake.widgets_created("acct-a")] == ["mine"]
    assert len(fake.widgets_created()) == 2


def test_list_pages_with_a_cursor(a: httpx.Client, b: httpx.Client) -> None:
    for i in range(5):
        a.post("/v1/widgets", json={"name": f"a{i}"})
        b.post("/v1/widgets", json={"name": f"b{i}"})
    names: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["after"] = cursor
        page = a.get("/v1/widgets", params=params).json()
        names += [w["name"] for w in page["data"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert names == [f"a{i}" for i in range(5)]
    assert pages == 3
    assert a.get("/v1/widgets", params={"limit": 5}).json()["next"] is None
    assert len(a.get("/v1/widgets").json()["data"]) == 5  # default limit 20


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"after": "w_99"}, "after"),
    ],
)
def test_list_validation(a: httpx.Client, params: dict[str, str | int], field: str) -> None:
    response = a.get("/v1/widgets", params=params)
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_unknown_endpoint(a: httpx.Client) -> None:
    assert a.get("/v1/gadgets").json() == {"error": "not_found", "message": "No such endpoint"}
    assert a.delete("/v1/widgets").status_code == 405


# -- jobs -----------------------------------------------------------------------


def test_job_finishes_after_its_duration_on_the_fake_clock(
    fake: FakeWidgets, a: httpx.Client, clock: ManualClock
) -> None:
    widget = a.post("/v1/widgets", json={"name": "w"}).json()
    started = a.post("/v1/jobs", json={"widget_id": widget["id"]})
    assert started.status_code == 202
    assert started.json() == {"job_id": "j_1", "status": "running"}

    clock.advance(4.9)
    running = a.get("/v1/jobs/j_1").json()
    assert running == {
        "job_id": "j_1",
        "widget_id": "w_1",
        "status": "running",
        "output": None,
        "finished_at": None,
    }
    clock.advance(0.1)
    done = a.get("/v1/jobs/j_1").json()
    assert done["status"] == "succeeded"
    assert done["output"] == "job j_1 done"
    assert done["finished_at"] == "2027-01-15T08:00:05Z"
    assert fake.jobs_created("acct-a") == [done]


def test_job_duration_from_the_body(a: httpx.Client, clock: ManualClock) -> None:
    a.post("/v1/jobs", json={"duration": 0.5})
    a.post("/v1/jobs", json={"duration": 0})
    a.post("/v1/jobs")
    assert a.get("/v1/jobs/j_2").json()["status"] == "succeeded"
    clock.advance(0.5)
    assert [a.get(f"/v1/jobs/j_{i}").json()["status"] for i in (1, 3)] == ["succeeded", "running"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"duration": -1}, 422, "duration"),
        ({"duration": "soon"}, 422, "duration"),
        ({"duration": True}, 422, "duration"),
        ({"widget_id": 5}, 422, "widget_id"),
        ([1], 422, "body"),
    ],
)
def test_job_validation(a: httpx.Client, body: object, status: int, field: str) -> None:
    response = a.post("/v1/jobs", json=body)
    assert response.status_code == status
    assert response.json()["field"] == field


def test_jobs_are_per_account(a: httpx.Client, b: httpx.Client) -> None:
    a.post("/v1/widgets", json={"name": "w"})
    assert b.post("/v1/jobs", json={"widget_id": "w_1"}).json() == {
        "error": "not_found",
        "message": "Widget w_1 not found",
    }
    a.post("/v1/jobs")
    assert b.get("/v1/jobs/j_1").status_code == 404


# -- rate limit -------------------------------------------------------------------


@pytest.fixture
def limited(clock: ManualClock) -> FakeWidgets:
    return FakeWidgets({KEY_A: "acct-a", KEY_B: "acct-b"}, clock=clock, rate_limit=(3, 10.0))


def test_sliding_window_refuses_with_retry_after(limited: FakeWidgets, clock: ManualClock) -> None:
    with client_for(limited, KEY_A) as a:
        for _ in range(3):
            assert a.get("/v1/widgets").status_code == 200
            clock.advance(1.0)
        refused = a.get("/v1/widgets")  # t=3: requests at 0, 1, 2 are in the window
        assert refused.status_code == 429
        assert refused.json()["error"] == "rate_limited"
        assert refused.headers["Retry-After"] == "7"
        clock.advance(6.5)  # t=9.5: the request at 0 leaves at 10
        assert a.get("/v1/widgets").headers["Retry-After"] == "1"
        clock.advance(0.5)  # t=10
        assert a.get("/v1/widgets").status_code == 200
        assert a.get("/v1/widgets").status_code == 429  # 1, 2 and 10 are in the window
    assert limited.accepted_times("acct-a") == [1000.0, 1001.0, 1002.0, 1010.0]
    assert limited.over_limit("acct-a") == 3
    assert limited.over_limit() == 3


def test_limit_is_per_account(limited: FakeWidgets) -> None:
    with client_for(limited, KEY_A) as a, client_for(limited, KEY_B) as b:
        for _ in range(3):
            a.get("/v1/widgets")
        assert a.get("/v1/widgets").status_code == 429
        assert b.get("/v1/widgets").status_code == 200
    assert limited.over_limit("acct-b") == 0
    assert limited.accepted_times("acct-b") == [1000.0]
    assert limited.accepted_times("nobody") == []


def test_retry_after_header_can_be_turned_off(clock: ManualClock) -> None:
    fake = FakeWidgets({KEY_A: "a"}, clock=clock, rate_limit=(1, 60.0), retry_after_header=False)
    with client_for(fake, KEY_A) as a:
        a.get("/v1/widgets")
        refused = a.get("/v1/widgets")
    assert refused.status_code == 429
    assert "Retry-After" not in refused.headers


def test_control_surface_unauthenticated_and_faulted_requests_are_not_limited(
    limited: FakeWidgets,
) -> None:
    with client_for(limited, KEY_A) as a, client_for(limited, "bad-key") as bad:
        for _ in range(10):
            assert a.get("/__sandbox/requests").status_code == 200
            assert bad.get("/v1/widgets").status_code == 401
        limited.inject(Fault(status=503), times=5)
        for _ in range(5):
            assert a.get("/v1/widgets").status_code == 503
        assert [a.get("/v1/widgets").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert limited.over_limit() == 1


def test_rate_limit_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        FakeWidgets({}, rate_limit=(0, 1.0))
    with pytest.raises(ValueError, match="rate_limit"):
        FakeWidgets({}, rate_limit=(1, 0.0))
    with pytest.raises(ValueError, match="job_duration"):
        FakeWidgets({}, job_duration=-1)


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=5),
    window=st.floats(min_value=0.5, max_value=20.0),
    gaps=st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=1, max_size=40),
)
def test_admitted_requests_never_exceed_the_limit_in_any_window(
    limit: int, window: float, gaps: list[float]
) -> None:
    clock = ManualClock()
    fake = FakeWidgets({KEY_A: "a"}, clock=clock, rate_limit=(limit, window))
    statuses: list[int] = []
    with client_for(fake, KEY_A) as a:
        for gap in gaps:
            clock.advance(gap)
            statuses.append(a.get("/v1/widgets").status_code)
    admitted = fake.accepted_times("a")
    for i, t in enumerate(admitted):
        in_window = [u for u in admitted[: i + 1] if u > t - window]
        assert len(in_window) <= limit
    assert statuses.count(200) == len(admitted)
    assert statuses.count(429) == fake.over_limit("a")
    assert set(statuses) <= {200, 429}


def test_retry_after_is_honest(clock: ManualClock) -> None:
    fake = FakeWidgets({KEY_A: "a"}, clock=clock, rate_limit=(2, 3.3))
    with client_for(fake, KEY_A) as a:
        a.get("/v1/widgets")
        clock.advance(0.2)
        a.get("/v1/widgets")
        wait = int(a.get("/v1/widgets").headers["Retry-After"])
        assert wait == 4  # ceil(3.3 - 0.2)
        clock.advance(wait - 1)
        assert a.get("/v1/widgets").status_code == 429
        clock.advance(1)
        assert a.get("/v1/widgets").status_code == 200
