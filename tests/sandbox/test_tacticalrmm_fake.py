"""FakeTacticalRmm over real HTTP: auth, Knox, checkcreds, agents, runs, switches, faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.core import ManualClock, RunningServer
from sandbox.tacticalrmm import CHECKCREDS_TTL, KNOX_TTL, RUNSCRIPT_KEYS, FakeTacticalRmm

CANARY_KEY = "CANARYAPIKEY-must-never-be-logged-0001"
RESULT_DELAY = 30.0
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
INVALID = {"detail": "Invalid token."}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def seeded(clock: ManualClock) -> tuple[FakeTacticalRmm, dict[str, Any]]:
    tactical = FakeTacticalRmm(clock=clock, script_result_delay=RESULT_DELAY)
    seed = tactical.seed_demo()
    tactical.add_api_key(seed["username"], CANARY_KEY)
    return tactical, seed


@pytest.fixture
def fake(seeded: tuple[FakeTacticalRmm, dict[str, Any]]) -> FakeTacticalRmm:
    return seeded[0]


@pytest.fixture
def seed(seeded: tuple[FakeTacticalRmm, dict[str, Any]]) -> dict[str, Any]:
    return seeded[1]


@pytest.fixture
def server(fake: FakeTacticalRmm) -> Iterator[RunningServer]:
    with fake.serve() as running:
        yield running


@pytest.fixture
def anon(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url) as client:
        yield client


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers={"X-API-KEY": CANARY_KEY}) as client:
        yield client


def run_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "output": "wait",
        "emails": [],
        "emailMode": "default",
        "custom_field": None,
        "save_all_output": False,
        "script": 1,
        "args": [],
        "env_vars": ["GREETING=hi"],
        "run_as_user": False,
        "timeout": 90,
    }
    return {**body, **overrides}


def knox(server: RunningServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Token {token}"})


# -- auth --------------------------------------------------------------------------------


def test_every_api_path_needs_a_credential_and_401s_are_drf_shaped(
    anon: httpx.Client, server: RunningServer
) -> None:
    missing = anon.get("/agents/")
    assert (missing.status_code, missing.json()) == (401, NOT_PROVIDED)
    assert missing.headers["WWW-Authenticate"] == "Token"
    wrong = anon.get("/agents/", headers={"X-API-KEY": "nope"})
    assert (wrong.status_code, wrong.json()) == (401, INVALID)
    with knox(server, "not-a-token") as bad:
        assert bad.get("/scripts/").json() == INVALID
        # Knox runs on the AllowAny login views too.
        assert bad.post("/v2/checkcreds/", json={}).status_code == 401


def test_api_key_mode(api: httpx.Client, fake: FakeTacticalRmm, clock: ManualClock) -> None:
    assert api.get("/scripts/").status_code == 200
    expiring = fake.add_api_key("patchbay-demo", expires_in=60)
    clock.advance(61)
    expired = api.get("/scripts/", headers={"X-API-KEY": expiring})
    assert (expired.status_code, expired.json()) == (401, {"detail": "The token has expired."})


def test_read_only_user_is_refused_writes_with_403(
    fake: FakeTacticalRmm, anon: httpx.Client, seed: dict[str, Any]
) -> None:
    fake.add_user("viewer", "pw", read_only=True)
    key = fake.add_api_key("viewer")
    headers = {"X-API-KEY": key}
    assert anon.get("/agents/", headers=headers).status_code == 200
    refused = anon.post(f"/agents/{seed['agent_ids'][0]}/reboot/", headers=headers)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "You do not have permission to perform this action."}


def test_knox_token_lives_its_ttl_and_auto_refreshes_on_use(
    fake: FakeTacticalRmm, server: RunningServer, clock: ManualClock
) -> None:
    token = fake.issue_knox_token("patchbay-demo")
    with knox(server, token) as client:
        clock.advance(KNOX_TTL - 1)
        assert client.get("/scripts/").status_code == 200  # used: expiry moves to now + TTL
        clock.advance(KNOX_TTL - 1)
        assert client.get("/scripts/").status_code == 200
        clock.advance(KNOX_TTL + 1)
        expired = client.get("/scripts/")
    assert (expired.status_code, expired.json()) == (401, INVALID)


def test_revoked_knox_token_is_refused(
    fake: FakeTacticalRmm, server: RunningServer, anon: httpx.Client
) -> None:
    token = fake.issue_knox_token("patchbay-demo")
    with knox(server, token) as client:
        assert client.get("/scripts/").status_code == 200
        assert anon.post("/__sandbox/knox/revoke", json={}).json() == {"revoked": 1}
        assert client.get("/scripts/").json() == INVALID


def test_inactive_user(fake: FakeTacticalRmm, api: httpx.Client) -> None:
    fake.deactivate_user("patchbay-demo")
    assert api.get("/scripts/").json() == {"detail": "User inactive or deleted."}


# -- checkcreds and login ------------------------------------------------------------------


def test_checkcreds_three_outcomes(
    anon: httpx.Client, server: RunningServer, clock: ManualClock
) -> None:
    bad = anon.post("/v2/checkcreds/", json={"username": "patchbay-demo", "password": "x"})
    assert (bad.status_code, bad.json()) == (400, "Bad credentials")
    totp = anon.post(
        "/v2/checkcreds/",
        json={"username": "patchbay-demo-totp", "password": "patchbay-demo-password"},
    )
    assert (totp.status_code, totp.json()) == (200, {"totp": True})
    plain = anon.post(
        "/v2/checkcreds/", json={"username": "patchbay-demo", "password": "patchbay-demo-password"}
    )
    body = plain.json()
    assert plain.status_code == 200
    assert set(body) == {"expiry", "token", "totp"}
    assert body["totp"] is False
    with knox(server, body["token"]) as client:
        assert client.get("/scripts/").status_code == 200  # used: now a 5 h token
        clock.advance(CHECKCREDS_TTL + 60)
        assert client.get("/scripts/").status_code == 200


def test_unused_checkcreds_token_dies_after_180_seconds(
    anon: httpx.Client, server: RunningServer, clock: ManualClock
) -> None:
    body = anon.post(
        "/v2/checkcreds/", json={"username": "patchbay-demo", "password": "patchbay-demo-password"}
    ).json()
    clock.advance(CHECKCREDS_TTL + 1)
    with knox(server, body["token"]) as client:
        assert client.get("/scripts/").status_code == 401


def test_login_is_500_without_twofactor_as_the_vendor(anon: httpx.Client) -> None:
    creds = {"username": "patchbay-demo", "password": "patchbay-demo-password"}
    assert anon.post("/v2/login/", json=creds).status_code == 500
    # A non-TOTP user also 500s with a code: the TOTP check runs with no secret.
    assert anon.post("/v2/login/", json={**creds, "twofactor": "123456"}).status_code == 500
    bad = anon.post("/v2/login/", json={**creds, "password": "x"})
    assert bad.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    totp = {"username": "patchbay-demo-totp", "password": "patchbay-demo-password"}
    assert anon.post("/v2/login/", json={**totp, "twofactor": "000000"}).json() == (
        "Bad credentials"
    )
    ok = anon.post("/v2/login/", json={**totp, "twofactor": "123456"})
    assert ok.status_code == 200
    assert set(ok.json()) == {"expiry", "token", "username", "name"}


def test_login_in_alga_mode_needs_no_twofactor(anon: httpx.Client) -> None:
    anon.post("/__sandbox/switches", json={"mode": "alga"})
    creds = {"username": "patchbay-demo", "password": "patchbay-demo-password"}
    assert anon.post("/v2/login/", json=creds).json()["username"] == "patchbay-demo"


def test_login_views_are_throttled(anon: httpx.Client, clock: ManualClock) -> None:
    creds = {"username": "nobody", "password": "x"}
    codes = [anon.post("/v2/checkcreds/", json=creds).status_code for _ in range(11)]
    assert codes == [400] * 10 + [429]
    clock.advance(60)
    assert anon.post("/v2/checkcreds/", json=creds).status_code == 400


# -- agents ----------------------------------------------------------------------------------


def test_beta_list_pages_like_drf(fake: FakeTacticalRmm, api: httpx.Client) -> None:
    for n in range(5):
        fake.add_agent(f"BULK-{n:02d}", 1)
    first = api.get("/beta/v1/agent/", params={"page_size": 4}).json()
    assert first["count"] == 9
    assert first["previous"] is None
    assert [r["id"] for r in first["results"]] == [1, 2, 3, 4]
    assert all("status" not in r and "client_id" not in r for r in first["results"])
    second = httpx.get(first["next"], headers={"X-API-KEY": CANARY_KEY}).json()
    assert [r["id"] for r in second["results"]] == [5, 6, 7, 8]
    assert second["previous"].endswith("/beta/v1/agent/?page_size=4")
    assert "page=3" in second["next"]
    invalid = api.get("/beta/v1/agent/", params={"page": 4, "page_size": 4})
    assert (invalid.status_code, invalid.json()) == (404, {"detail": "Invalid page."})
    capped = api.get("/beta/v1/agent/", params={"page_size": 5000}).json()
    assert len(capped["results"]) == 9
    descending = api.get("/beta/v1/agent/", params={"ordering": "-id"}).json()
    assert descending["results"][0]["id"] == 9


def test_beta_list_filters(api: httpx.Client, seed: dict[str, Any]) -> None:
    def ids(**params: Any) -> list[int]:
        return [r["id"] for r in api.get("/beta/v1/agent/", params=params).json()["results"]]

    assert ids(hostname="CONTOSO-DC01") == [1]
    assert ids(hostname="contoso-dc01") == []  # exact
    assert ids(client_id=1) == [1, 2]
    assert ids(site=3) == [3, 4]
    assert ids(plat="linux") == [4]
    assert ids(search="fabrikam") == [3, 4]
    broken = api.get("/beta/v1/agent/", params={"agent_id": seed["agent_ids"][0]})
    assert broken.status_code == 500  # the vendor's bug
    api.post("/__sandbox/switches", json={"mode": "alga"})
    assert ids(agent_id=seed["agent_ids"][1]) == [2]


def test_detail_by_integer_pk_on_beta_and_by_string_id(
    api: httpx.Client, seed: dict[str, Any]
) -> None:
    agent_id = seed["agent_ids"][0]
    beta = api.get("/beta/v1/agent/1/").json()
    assert (beta["agent_id"], beta["status"]) == (agent_id, "online")
    assert {"checks", "serial_number", "local_ips", "make_model"} <= set(beta)
    by_string = api.get(f"/beta/v1/agent/{agent_id}/")
    assert (by_string.status_code, by_string.json()) == (404, {"detail": "Not found."})
    full = api.get(f"/agents/{agent_id}/").json()
    assert (full["status"], full["client"], full["site_name"]) == (
        "online",
        "Contoso Dental",
        "Main Office",
    )
    unknown = api.get(f"/agents/{'X' * 30}/")
    assert unknown.json() == {"detail": "No Agent matches the given query."}
    short = api.get("/agents/agent-abc/")  # under 21 characters: no URL matches
    assert short.status_code == 404
    assert short.headers["Content-Type"].startswith("text/html")
    api.post("/__sandbox/switches", json={"mode": "alga"})
    assert api.get(f"/beta/v1/agent/{agent_id}/").json()["id"] == 1


def test_clients_and_agent_table(api: httpx.Client) -> None:
    clients = api.get("/clients/").json()
    assert [(c["name"], c["agent_count"]) for c in clients] == [
        ("Contoso Dental", 2),
        ("Fabrikam Legal", 2),
    ]
    table = api.get("/agents/", params={"client": 2}).json()
    assert [(a["hostname"], a["status"], a["client_name"]) for a in table] == [
        ("FABRIKAM-WS07", "offline", "Fabrikam Legal"),
        ("fabrikam-nas", "online", "Fabrikam Legal"),
    ]


def test_agent_goes_offline_and_comes_back_on_the_clock(
    api: httpx.Client, seed: dict[str, Any], clock: ManualClock
) -> None:
    agent_id = seed["agent_ids"][1]
    went = api.get(f"/agents/{agent_id}/").json()["last_seen"]
    api.post(
        "/__sandbox/agents/online", json={"agent_id": agent_id, "online": False, "back_after": 600}
    )
    clock.advance(300)
    away = api.get(f"/agents/{agent_id}/").json()
    assert (away["status"], away["last_seen"]) == ("offline", went)
    clock.advance(300)
    back = api.get(f"/agents/{agent_id}/").json()
    assert back["status"] == "online"
    assert back["last_seen"] > went


def test_an_offline_agent_becomes_overdue(
    api: httpx.Client, seed: dict[str, Any], clock: ManualClock
) -> None:
    clock.advance(31 * 60)
    assert api.get(f"/agents/{seed['offline_agent_id']}/").json()["status"] == "overdue"


def test_beta_switch_off_404s_every_beta_path(api: httpx.Client) -> None:
    api.post("/__sandbox/switches", json={"beta_enabled": False})
    for path in ("/beta/v1/agent/", "/beta/v1/agent/1/"):
        off = api.get(path)
        assert off.status_code == 404
        assert off.headers["Content-Type"].startswith("text/html")
    assert api.get("/agents/").status_code == 200


# -- scripts and runs --------------------------------------------------------------------------


def test_scripts_list_and_its_switches(api: httpx.Client) -> None:
    names = [s["name"] for s in api.get("/scripts/").json()]
    assert names == ["Restart Print Spooler", "Collect system logs", "Clear temp files"]
    user_only = api.get("/scripts/", params={"showCommunityScripts": "false"}).json()
    assert {s["script_type"] for s in user_only} == {"userdefined"}


@pytest.mark.parametrize("missing", RUNSCRIPT_KEYS)
def test_runscript_without_a_required_key_is_500(
    api: httpx.Client, seed: dict[str, Any], missing: str
) -> None:
    body = run_body()
    del body[missing]
    assert api.post(f"/agents/{seed['agent_ids'][0]}/runscript/", json=body).status_code == 500


def test_runscript_unknown_script_and_agent(api: httpx.Client, seed: dict[str, Any]) -> None:
    unknown = api.post(f"/agents/{seed['agent_ids'][0]}/runscript/", json=run_body(script=99))
    assert unknown.json() == {"detail": "No Script matches the given query."}
    nobody = api.post(f"/agents/{'Z' * 25}/runscript/", json=run_body())
    assert nobody.json() == {"detail": "No Agent matches the given query."}


def test_wait_answers_the_output_and_records_history(
    api: httpx.Client, seed: dict[str, Any], fake: FakeTacticalRmm
) -> None:
    agent_id = seed["agent_ids"][0]
    ran = api.post(f"/agents/{agent_id}/runscript/", json=run_body())
    assert (ran.status_code, ran.json()) == (200, "Removed 1,284 files (2.3 GB).\n")
    (entry,) = api.get(f"/agents/{agent_id}/history/").json()
    assert entry["script_results"]["stdout"] == "Removed 1,284 files (2.3 GB).\n"
    assert entry["username"] == "patchbay-demo"
    assert fake.calls("POST")[0].body["env_vars"] == ["GREETING=hi"]


def test_wait_on_an_offline_agent_is_200_timeout_after_timeout_plus_3(
    api: httpx.Client, seed: dict[str, Any], clock: ManualClock
) -> None:
    ran = api.post(f"/agents/{seed['offline_agent_id']}/runscript/", json=run_body(timeout=40))
    assert (ran.status_code, ran.json()) == (200, "timeout")
    assert clock.sleeps == [43]


def test_natsdown_switch(api: httpx.Client, seed: dict[str, Any]) -> None:
    api.post("/__sandbox/switches", json={"nats_down": True})
    agent_id = seed["agent_ids"][0]
    assert api.post(f"/agents/{agent_id}/runscript/", json=run_body()).json() == "natsdown"
    cmd = {"shell": "cmd", "cmd": "hostname", "timeout": 30, "run_as_user": False}
    assert api.post(f"/agents/{agent_id}/cmd/", json=cmd).json() == "natsdown"


def test_async_run_result_reaches_history_after_the_delay(
    api: httpx.Client, seed: dict[str, Any], clock: ManualClock
) -> None:
    agent_id = seed["agent_ids"][0]
    ran = api.post(f"/agents/{agent_id}/runscript/", json=run_body(output="forget"))
    assert ran.json() == "Clear temp files will now be run on CONTOSO-DC01"
    (pending,) = api.get(f"/agents/{agent_id}/history/").json()
    assert pending["script_results"] is None
    clock.advance(RESULT_DELAY)
    (done,) = api.get(f"/agents/{agent_id}/history/").json()
    assert done["script_results"]["retcode"] == 0
    assert done["script_results"]["stdout"] == "Removed 1,284 files (2.3 GB).\n"


def test_cmd(api: httpx.Client, seed: dict[str, Any], clock: ManualClock) -> None:
    cmd = {"shell": "cmd", "cmd": "hostname", "timeout": 30, "run_as_user": False}
    ran = api.post(f"/agents/{seed['agent_ids'][0]}/cmd/", json=cmd)
    assert (ran.status_code, ran.json()) == (200, "CONTOSO-DC01\r\n")
    custom = api.post(f"/agents/{seed['agent_ids'][0]}/cmd/", json={**cmd, "shell": "custom"})
    assert custom.status_code == 500
    with_shell = {**cmd, "shell": "custom", "custom_shell": "/bin/zsh"}
    assert api.post(f"/agents/{seed['agent_ids'][0]}/cmd/", json=with_shell).status_code == 200
    offline = api.post(f"/agents/{seed['offline_agent_id']}/cmd/", json=cmd)
    assert (offline.status_code, offline.json()) == (400, "Unable to contact the agent")
    assert clock.sleeps == [32]


def test_reboot(api: httpx.Client, seed: dict[str, Any], fake: FakeTacticalRmm) -> None:
    ok = api.post(f"/agents/{seed['agent_ids'][0]}/reboot/")
    assert (ok.status_code, ok.json()) == (200, "ok")
    offline = api.post(f"/agents/{seed['offline_agent_id']}/reboot/")
    assert (offline.status_code, offline.json()) == (400, "Unable to contact the agent")
    assert fake.reboots == [seed["agent_ids"][0]]


def test_real_clock_wait_is_capped() -> None:
    slept: list[float] = []
    fake = FakeTacticalRmm(sleep=slept.append, max_wait=0.5)
    seeded = fake.seed_demo()
    with fake.serve() as running, httpx.Client(base_url=running.base_url) as client:
        ran = client.post(
            f"/agents/{seeded['offline_agent_id']}/runscript/",
            json=run_body(),
            headers={"X-API-KEY": seeded["api_key"]},
        )
    assert ran.json() == "timeout"
    assert slept == [0.5]


# -- faults and the request log -------------------------------------------------------------


def test_fault_injection(api: httpx.Client, fake: FakeTacticalRmm) -> None:
    api.post("/__sandbox/faults", json={"status": 502, "path": "/scripts/", "times": 1})
    assert api.get("/scripts/").status_code == 502
    assert api.get("/scripts/").status_code == 200
    assert [r.fault for r in fake.calls("GET", "/scripts/")] == [True, False]


def test_request_log_never_shows_a_credential(
    api: httpx.Client, anon: httpx.Client, server: RunningServer
) -> None:
    api.get("/scripts/")
    login = {"username": "patchbay-demo", "password": "patchbay-demo-password"}
    token = anon.post("/v2/checkcreds/", json=login).json()["token"]
    with knox(server, token) as client:
        client.get("/agents/")
    totp = {"username": "patchbay-demo-totp", "password": "patchbay-demo-password"}
    anon.post("/v2/login/", json={**totp, "twofactor": "482913"})
    exported = anon.get("/__sandbox/requests").text
    assert CANARY_KEY not in exported
    assert token not in exported
    assert "patchbay-demo-password" not in exported
    assert "482913" not in exported  # the TOTP code
    assert len(anon.get("/__sandbox/requests").json()["requests"]) == 4
