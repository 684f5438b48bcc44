"""The fake-server framework: routing, request log, faults, control surface, serving."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from sandbox.core import (
    REDACTED,
    FakeVendor,
    Fault,
    ManualClock,
    SandboxRequest,
    json_response,
    path_matches,
    route,
)


class Things(FakeVendor):
    """A tiny vendor: things you can create and read, and a route that crashes."""

    def __init__(
        self, clock: ManualClock | None = None, sleep: Callable[[float], None] | None = None
    ) -> None:
        super().__init__(clock=clock, sleep=sleep)
        self.things: dict[str, str] = {}
        self.add_route("GET", "/dynamic", lambda req: json_response(200, {"dynamic": True}))

    @route("GET", "/things/{thing_id}")
    def get_thing(self, req: SandboxRequest) -> httpx.Response:
        thing_id = req.path_params["thing_id"]
        if thing_id not in self.things:
            return json_response(404, {"error": "not_found"})
        return json_response(200, {"id": thing_id, "name": self.things[thing_id]})

    @route("POST", "/things")
    @route("PUT", "/things")
    def create_thing(self, req: SandboxRequest) -> httpx.Response:
        name = req.body["name"] if isinstance(req.body, dict) else str(req.body)
        thing_id = f"t{len(self.things) + 1}"
        self.things[thing_id] = name
        return json_response(201, {"id": thing_id, "name": name, "query": req.arg("q")})

    @route("GET", "/boom")
    def boom(self, req: SandboxRequest) -> httpx.Response:
        raise RuntimeError("bug in the fake")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=500.0)


@pytest.fixture
def fake(clock: ManualClock) -> Things:
    return Things(clock)


@pytest.fixture
def client(fake: Things) -> Iterator[httpx.Client]:
    with httpx.Client(transport=fake.transport(), base_url="http://things.test") as c:
        yield c


# -- routing ------------------------------------------------------------------


def test_routes_match_methods_and_path_params(fake: Things, client: httpx.Client) -> None:
    created = client.post("/things", json={"name": "lamp"}, params={"q": "x"})
    assert created.status_code == 201
    assert created.json() == {"id": "t1", "name": "lamp", "query": "x"}
    assert client.put("/things", json={"name": "desk"}).json()["id"] == "t2"
    assert client.get("/things/t1").json() == {"id": "t1", "name": "lamp"}
    assert client.get("/things/t9").status_code == 404
    assert client.get("/dynamic").json() == {"dynamic": True}
    assert ("GET", "/things/{thing_id}") in fake.routes
    assert {("POST", "/things"), ("PUT", "/things")} <= set(fake.routes)


def test_path_params_are_one_decoded_segment(fake: Things, client: httpx.Client) -> None:
    fake.things["a b"] = "spaced"
    assert client.get("/things/a%20b").json()["name"] == "spaced"
    assert client.get("/things/t1/extra").status_code == 404


def test_unknown_path_is_404_and_wrong_method_is_405_with_allow(client: httpx.Client) -> None:
    missing = client.get("/nothing")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "No such endpoint"}
    wrong = client.delete("/things")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "POST, PUT"


def test_a_crashing_handler_surfaces_in_process(client: httpx.Client) -> None:
    with pytest.raises(RuntimeError, match="bug in the fake"):
        client.get("/boom")


# -- request log ----------------------------------------------------------------


def test_request_log_records_what_the_vendor_saw(
    fake: Things, client: httpx.Client, clock: ManualClock
) -> None:
    client.post("/things", json={"name": "lamp"}, params={"q": "1", "r": ["a", "b"]})
    clock.advance(2.5)
    client.post("/things", data={"name": "form"})
    client.put("/things", content=b"plain text", headers={"Content-Type": "text/plain"})
    client.get("/things/t9", headers={"X-Trace": "abc"})

    first, second, third, fourth = fake.requests
    assert (first.method, first.path, first.status) == ("POST", "/things", 201)
    assert first.query == {"q": ["1"], "r": ["a", "b"]}
    assert first.body == {"name": "lamp"}
    assert first.timestamp == 500.0
    assert second.body == {"name": "form"}
    assert second.timestamp == 502.5
    assert third.body == "plain text"
    assert fourth.body is None
    assert fourth.headers["x-trace"] == "abc"
    assert fourth.status == 404
    assert not any(r.fault for r in fake.requests)


def test_calls_and_count_filter_by_method_and_path(fake: Things, client: httpx.Client) -> None:
    client.post("/things", json={"name": "a"})
    client.get("/things/t1")
    client.get("/things/t2")
    assert fake.count() == 3
    assert fake.count("get") == 2
    assert fake.count("GET", "/things/t1") == 1
    assert fake.count(path="/things/*") == 2
    assert fake.count("POST", "/things/*") == 0
    assert [r.path for r in fake.calls("GET")] == ["/things/t1", "/things/t2"]


def test_path_matching_is_exact_unless_glob() -> None:
    assert path_matches("/v2/devices", "/v2/devices")
    assert not path_matches("/v2/devices", "/v2/devices-detailed")
    assert path_matches("/v2/*", "/v2/device/1/script/run")
    assert path_matches("/v2/device/*/script/run", "/v2/device/17/script/run")
    assert not path_matches("/v2/device/*/script/run", "/v2/device/17/reboot/NORMAL")
    assert path_matches("/v2/device/?", "/v2/device/7")


# -- faults ---------------------------------------------------------------------


def test_status_fault_answers_instead_of_the_vendor(fake: Things, client: httpx.Client) -> None:
    fake.inject(
        Fault(status=503, body={"error": "down"}, headers={"Retry-After": "3"}),
        method="POST",
        path="/things",
    )
    faulted = client.post("/things", json={"name": "lamp"})
    assert faulted.status_code == 503
    assert faulted.json() == {"error": "down"}
    assert faulted.headers["Retry-After"] == "3"
    assert fake.things == {}  # the handler never ran
    assert client.post("/things", json={"name": "lamp"}).status_code == 201  # used up
    assert [r.fault for r in fake.requests] == [True, False]
    assert fake.requests[0].status == 503


@pytest.mark.parametrize(
    ("body", "content", "content_type"),
    [
        ("maintenance", b"maintenance", "text/plain; charset=utf-8"),
        (b"\x00raw", b"\x00raw", None),
        (None, b"", None),
        ([1, 2], b"[1,2]", "application/json"),
    ],
)
def test_fault_body_kinds(
    fake: Things, client: httpx.Client, body: object, content: bytes, content_type: str | None
) -> None:
    fake.inject(Fault(status=500, body=body))
    response = client.get("/things/t1")
    assert response.content == content
    assert response.headers.get("Content-Type") == content_type


def test_fault_times_and_until_cleared(fake: Things, client: httpx.Client) -> None:
    fake.inject(Fault(status=502), path="/things/*", times=2)
    assert [client.get("/things/x").status_code for _ in range(3)] == [502, 502, 404]

    fake.inject(Fault(status=500), times=None)
    assert [client.get("/dynamic").status_code for _ in range(5)] == [500] * 5
    fake.clear_faults()
    assert client.get("/dynamic").status_code == 200


def test_faults_match_method_and_path_and_apply_in_order(
    fake: Things, client: httpx.Client
) -> None:
    fake.inject(Fault(status=418), method="GET", path="/things/t1")
    fake.inject(Fault(status=500), path="/things/*")
    assert client.post("/things", json={"name": "a"}).status_code == 201
    assert client.get("/things/t2").status_code == 500  # second rule; first does not match
    assert client.get("/things/t1").status_code == 418
    assert client.get("/things/t1").status_code == 200


def test_delay_only_fault_waits_then_the_vendor_answers(
    fake: Things, client: httpx.Client, clock: ManualClock
) -> None:
    fake.inject(Fault(delay=4.0), path="/things")
    response = client.post("/things", json={"name": "slow"})
    assert response.status_code == 201
    assert clock.sleeps == [4.0]
    assert clock() == 504.0
    assert fake.things == {"t1": "slow"}
    assert fake.requests[0].timestamp == 500.0  # arrival time
    assert not fake.requests[0].fault


def test_delay_and_status_together(fake: Things, client: httpx.Client, clock: ManualClock) -> None:
    fake.inject(Fault(status=504, delay=30.0))
    assert client.get("/dynamic").status_code == 504
    assert clock.sleeps == [30.0]


def test_disconnect_after_the_vendor_acted(fake: Things, client: httpx.Client) -> None:
    fake.inject(Fault(disconnect=True), method="POST")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/things", json={"name": "ghost"})
    assert fake.things == {"t1": "ghost"}  # it happened; the caller never heard
    (logged,) = fake.requests
    assert logged.status is None
    assert logged.fault


def test_disconnect_with_status_drops_before_the_vendor(fake: Things, client: httpx.Client) -> None:
    fake.inject(Fault(status=500, disconnect=True))
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/things", json={"name": "never"})
    assert fake.things == {}


def test_inject_rejects_nonsense(fake: Things) -> None:
    with pytest.raises(ValueError, match="times"):
        fake.inject(Fault(status=500), times=0)
    with pytest.raises(ValueError, match="delay"):
        fake.inject(Fault(delay=-1))


def test_reset_clears_log_and_faults_but_not_vendor_data(
    fake: Things, client: httpx.Client
) -> None:
    client.post("/things", json={"name": "kept"})
    fake.inject(Fault(status=500), times=None)
    fake.reset()
    assert fake.requests == []
    assert client.get("/things/t1").json()["name"] == "kept"


# -- time -----------------------------------------------------------------------


def test_epoch_moves_with_the_injected_clock(clock: ManualClock) -> None:
    vendor = Things(clock)
    vendor_at = FakeVendor(clock=clock, epoch_origin=1_700_000_000.0)
    assert vendor_at.epoch() == 1_700_000_000.0
    clock.advance(90)
    assert vendor_at.epoch() == 1_700_000_090.0
    assert vendor.now() == 590.0


def test_manual_clock_never_goes_backwards() -> None:
    clock = ManualClock()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    clock.sleep(-5)
    assert clock() == 1_000.0


def test_explicit_sleep_wins_over_the_clocks(clock: ManualClock) -> None:
    slept: list[float] = []
    vendor = Things(clock, sleep=slept.append)
    vendor.inject(Fault(delay=1.5))
    with httpx.Client(transport=vendor.transport(), base_url="http://t") as c:
        c.post("/things", json={"name": "x"})
    assert slept == [1.5]
    assert clock.sleeps == []


# -- real HTTP --------------------------------------------------------------------


def test_serve_answers_over_loopback_and_stop_leaves_nothing(fake: Things) -> None:
    before = set(threading.enumerate())
    server = fake.serve()
    assert server.base_url.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=server.base_url) as c:
        assert c.post("/things", json={"name": "lamp"}).status_code == 201
        assert c.get("/things/t1").json() == {"id": "t1", "name": "lamp"}
        # The pooled keep-alive connection is still open when the server stops.
        server.stop()
    server.stop()  # idempotent
    assert set(threading.enumerate()) <= before
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", server.port), timeout=1),
    ):
        pass


def test_server_as_context_manager_serves_many_clients(fake: Things) -> None:
    before = set(threading.enumerate())
    with fake.serve() as server:
        clients = [httpx.Client(base_url=server.base_url) for _ in range(3)]
        try:
            for i, c in enumerate(clients):
                c.post("/things", json={"name": f"n{i}"})
        finally:
            for c in clients:
                c.close()
    assert set(threading.enumerate()) <= before
    assert sorted(fake.things.values()) == ["n0", "n1", "n2"]


def test_real_http_bodies_headers_and_chunked_uploads(fake: Things) -> None:
    with fake.serve() as server, httpx.Client(base_url=server.base_url) as c:
        c.post(
            "/things",
            content=iter([b'{"name": ', b'"chunked"}']),
            headers={"Content-Type": "application/json"},
        )
        c.post("/things", data={"name": "form"}, params={"q": "z"})
        head = c.head("/dynamic")
    assert head.status_code == 200
    assert head.content == b""
    chunked, form, _ = fake.requests
    assert chunked.body == {"name": "chunked"}
    assert form.body == {"name": "form"}
    assert form.query == {"q": ["z"]}
    assert form.headers["content-type"] == "application/x-www-form-urlencoded"


def test_real_http_crash_is_a_500_not_a_hang(fake: Things) -> None:
    with fake.serve() as server, httpx.Client(base_url=server.base_url) as c:
        response = c.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"error": "sandbox_internal_error", "message": "RuntimeError"}


def test_real_http_disconnect_fault(fake: Things) -> None:
    fake.inject(Fault(disconnect=True), method="POST")
    with fake.serve() as server, httpx.Client(base_url=server.base_url) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/things", json={"name": "lost"})
        assert c.get("/things/t1").json()["name"] == "lost"


# -- control surface ----------------------------------------------------------------


def test_control_surface_over_http(fake: Things) -> None:
    with fake.serve() as server, httpx.Client(base_url=server.base_url) as c:
        added = c.post(
            "/__sandbox/faults",
            json={
                "status": 429,
                "body": {"error": "slow down"},
                "headers": {"Retry-After": "2"},
                "method": "POST",
                "path": "/things",
                "times": 1,
            },
        )
        assert added.status_code == 201
        limited = c.post(
            "/things", json={"name": "x"}, headers={"Authorization": "Bearer sekrit-token"}
        )
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "2"
        assert c.post("/things", json={"name": "x", "client_secret": "hush"}).status_code == 201

        log = c.get("/__sandbox/requests").json()["requests"]
        assert [(r["method"], r["path"], r["status"], r["fault"]) for r in log] == [
            ("POST", "/things", 429, True),
            ("POST", "/things", 201, False),
        ]
        assert log[0]["headers"]["authorization"] == f"Bearer {REDACTED}"
        assert log[1]["body"] == {"name": "x", "client_secret": REDACTED}
        assert "sekrit-token" not in c.get("/__sandbox/requests").text
        filtered = c.get("/__sandbox/requests", params={"method": "GET"}).json()["requests"]
        assert filtered == []

        assert c.post("/__sandbox/faults", json={"status": 500, "times": None}).status_code == 201
        assert c.get("/dynamic").status_code == 500
        assert c.delete("/__sandbox/faults").json() == {"ok": True}
        assert c.get("/dynamic").status_code == 200

        assert c.post("/__sandbox/faults", json={"delay": 0.0}).status_code == 201
        assert c.post("/__sandbox/reset").json() == {"ok": True}
        assert c.get("/__sandbox/requests").json() == {"requests": []}
        assert c.get("/__sandbox/nothing").status_code == 404
    # Control calls are never logged, faulted or counted as vendor traffic.
    assert fake.count() == 0
    # The in-memory log keeps what the client really sent.
    assert fake.things == {"t1": "x"}


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"status": "500"},
        {"status": 99},
        {"headers": {"a": 1}},
        {"delay": -1},
        {"delay": "1"},
        {"times": 0},
        {"disconnect": "yes"},
        {"method": 1},
        {"path": ["/x"]},
        {"colour": "red"},
    ],
)
def test_control_surface_rejects_bad_faults(fake: Things, body: object) -> None:
    with httpx.Client(transport=fake.transport(), base_url="http://t") as c:
        response = c.post("/__sandbox/faults", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_fault"


def test_a_delayed_request_does_not_block_others_on_the_real_server() -> None:
    release = threading.Event()
    entered = threading.Event()

    def blocking_sleep(seconds: float) -> None:
        entered.set()
        release.wait()

    vendor = Things(sleep=blocking_sleep)
    vendor.inject(Fault(delay=60.0), path="/things")
    with vendor.serve() as server:
        results: list[int] = []

        def slow_call() -> None:
            with httpx.Client(base_url=server.base_url) as c:
                results.append(c.post("/things", json={"name": "slow"}).status_code)

        slow = threading.Thread(target=slow_call)
        slow.start()
        try:
            assert entered.wait(timeout=10)
            with httpx.Client(base_url=server.base_url) as c:
                assert c.get("/dynamic").status_code == 200  # served while the other waits
            assert results == []
        finally:
            release.set()
            slow.join()
    assert results == [201]
    assert [r.path for r in vendor.requests] == ["/dynamic", "/things"]
