"""The web console over HTTP: signing in (the cookie, refusals, sign-out), the palette's
tiles (connected, disconnected with the catalog's hint, inputs from the JSON Schema),
the ledger (a step just run, filters, pages, refreshing only while a step is in flight),
one step in full, tenant isolation, escaping, security headers, and no token on any page.

The browser's view of the same pages is ``test_console_browser.py``'s.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest

from api.console.icons import GLYPHS, icon
from api.console.views import PAGE_SIZE, iso_text
from catalog.designer import designer_catalog
from executor.api import Executor
from executor.ledger import ClaimRequest, Run
from store.connections import connect
from store.tokens import list_tokens, revoke_token
from store.types import utcnow
from tests.api.conftest import OTHER_TENANT, TENANT, ApiUnderTest

COOKIE = "patchbay_console"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TICKET = {"title": "Disk full on SRV-DC01", "priority": "high"}
REFRESH = '<meta http-equiv="refresh"'
HOSTILE = "<script>alert('pwned')</script>"
TOOK = r'<td data-label="Took" class="num"><div class="cell">([^<]+)</div></td>'


# -- helpers -----------------------------------------------------------------------------


def signed_in(api: ApiUnderTest, tenant: str = TENANT, scope: str = "read") -> httpx.Client:
    """A client signed in through the form (the cookie in its jar, no bearer header)."""
    client = api.raw_client()
    response = client.post(
        "/console/login", content=urlencode({"token": api.token(tenant, scope)}), headers=FORM
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/palette"
    return client


def page(client: httpx.Client, path: str, expect: int = 200, **params: Any) -> str:
    response = client.get(path, params=params)
    assert response.status_code == expect, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response.text


def tiles(text: str) -> dict[str, str]:
    """Each palette tile's HTML by its group key, in page order."""
    found = re.findall(
        r'(<article class="[^"]*" id="[^"]*" data-group="([^"]+)">.*?</article>)', text, re.S
    )
    return {group: block for block, group in found}


def run_step(api: ApiUnderTest, key: str, *, tenant: str = TENANT, **body: Any) -> dict[str, Any]:
    """Send a ticket step through the API and wait until it is final."""
    client = api.client(tenant, "run")
    sent = client.post(
        "/v1/steps",
        json={"action_id": "tickets.create", "input": TICKET} | body,
        headers={"Idempotency-Key": key},
    )
    assert sent.status_code == 202, sent.text
    done = client.get(f"/v1/steps/{quote(key, safe='')}", params={"wait": 20})
    assert done.status_code == 200, done.text
    result: dict[str, Any] = done.json()
    assert result["final"], result
    return result


def claim(api: ApiUnderTest, key: str, *, tenant: str = TENANT, run_id: str | None = None) -> Run:
    """Record a ticket step and claim it as a worker would, without sending it anywhere.

    Nothing consumes it, so it stays as the test leaves it (the embedded worker
    only runs what is published; no sweeper runs under the ``api`` fixture).
    """
    ledger = api.runtime.pipeline.ledger
    claimed = ledger.claim(request(api, key, tenant=tenant, run_id=run_id), "test-worker")
    assert isinstance(claimed, Run)
    return claimed


def request(
    api: ApiUnderTest, key: str, *, tenant: str = TENANT, run_id: str | None = None
) -> ClaimRequest:
    pipeline = api.runtime.pipeline
    spec = pipeline.resolve("tickets.create", None)
    data = pipeline.validate_input(spec, TICKET).model_dump(mode="json")
    return pipeline.claim_request(
        spec, data, tenant_id=tenant, key=key, run_id=run_id, step_path="root.steps[0]"
    )


def waiting_step(api: ApiUnderTest, key: str, note: str, *, tenant: str = TENANT) -> None:
    """A step WAITING on the vendor for an hour, saying what for."""
    run = claim(api, key, tenant=tenant)
    assert api.runtime.pipeline.ledger.wait(
        run.row, "test-worker", kind="check", due_in=3600, note=note, state={"job": 7}
    )


def failed_step(api: ApiUnderTest, key: str, message: str, vendor_message: str) -> None:
    """A step FAILED at the vendor with ``message``."""
    run = claim(api, key)
    payload = {
        "category": "ActionError",
        "code": "VENDOR_ERROR",
        "message": message,
        "retryable": False,
        "vendor": {"status": 502, "message": vendor_message},
        "action_id": "tickets.create",
        "step_path": "root.steps[0]",
        "at": utcnow().isoformat(),
    }
    assert api.runtime.pipeline.ledger.fail(run.row, "test-worker", payload)


def revoke(api: ApiUnderTest, tenant: str, scope: str) -> None:
    with api.runtime.store.sessions.begin() as session:
        [info] = [t for t in list_tokens(session, tenant) if t.scope == scope]
        assert revoke_token(session, tenant, info.token_id)


# -- signing in ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/console/palette", "/console/ledger?status=FAILED", "/console/steps/some:key"]
)
def test_a_page_without_credentials_redirects_to_sign_in(api: ApiUnderTest, path: str) -> None:
    response = api.raw_client().get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?" + urlencode({"next": path})
    assert "set-cookie" not in response.headers


def test_the_console_root_opens_the_palette(api: ApiUnderTest) -> None:
    for path in ("/console", "/console/"):
        response = api.raw_client().get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/console/palette"


def test_signing_in_sets_a_strict_http_only_console_cookie(api: ApiUnderTest) -> None:
    client = api.raw_client()
    form = page(client, "/console/login")
    assert '<form method="post" action="/console/login"' in form
    assert 'name="token" type="password"' in form

    response = client.post(
        "/console/login", content=urlencode({"token": api.token(TENANT, "read")}), headers=FORM
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/palette"
    [cookie] = response.headers.get_list("set-cookie")
    name_value, *attributes = [part.strip() for part in cookie.split(";")]
    assert name_value == f"{COOKIE}={api.token(TENANT, 'read')}"
    flags = {a.split("=", 1)[0].lower(): a.partition("=")[2] for a in attributes}
    assert flags["httponly"] == ""
    assert flags["samesite"].lower() == "strict"
    assert flags["path"] == "/console"
    assert int(flags["max-age"]) > 0
    assert "secure" not in flags  # plain http on loopback; https sets it
    assert "domain" not in flags

    # The cookie alone opens the pages (the client sends no Authorization header).
    assert "Authorization" not in client.headers
    text = page(client, "/console/palette")
    assert "<h1>Palette</h1>" in text
    assert "read token “read token”" in text

    out = client.post("/console/logout")
    assert out.status_code == 303
    assert out.headers["location"] == "/console/login"
    [cleared] = out.headers.get_list("set-cookie")
    assert cleared.startswith(f'{COOKIE}="";') or cleared.startswith(f"{COOKIE}=;")
    assert "Max-Age=0" in cleared
    assert "Path=/console" in cleared
    assert client.get("/console/palette").status_code == 303


def test_over_https_the_cookie_is_secure(api: ApiUnderTest) -> None:
    # uvicorn takes the scheme from X-Forwarded-Proto when a trusted proxy (loopback) sends it.
    headers = {**FORM, "X-Forwarded-Proto": "https"}
    response = api.raw_client().post(
        "/console/login", content=urlencode({"token": api.token(TENANT, "read")}), headers=headers
    )
    assert response.status_code == 303
    [cookie] = response.headers.get_list("set-cookie")
    assert "secure" in [a.strip().lower() for a in cookie.split(";")]
    out = api.raw_client().post("/console/logout", headers={"X-Forwarded-Proto": "https"})
    assert "secure" in [a.strip().lower() for a in out.headers["set-cookie"].split(";")]


def test_signing_in_returns_to_the_page_asked_for_but_never_off_the_console(
    api: ApiUnderTest,
) -> None:
    token = api.token(TENANT, "read")
    cases = {
        "/console/ledger?status=FAILED": "/console/ledger?status=FAILED",
        "//evil.example/console/": "/console/palette",
        "https://evil.example/console/ledger": "/console/palette",
        "/v1/palette": "/console/palette",
        "/console/../v1/palette": "/console/palette",
        "/console\\..\\evil": "/console/palette",
    }
    for target, lands in cases.items():
        response = api.raw_client().post(
            "/console/login", content=urlencode({"token": token, "next": target}), headers=FORM
        )
        assert response.status_code == 303, target
        assert response.headers["location"] == lands, target
    # The form carries the page asked for (escaped) to the post.
    form = page(api.raw_client(), "/console/login", next='/console/ledger?status=FAILED&x="')
    assert 'name="next" value="/console/ledger?status=FAILED&amp;x=&#34;"' in form


@pytest.mark.parametrize("token", ["", "pb_unknown", "not-a-token", "x" * 500])
def test_a_wrong_token_is_refused_with_the_form_again(api: ApiUnderTest, token: str) -> None:
    response = api.raw_client().post(
        "/console/login", content=urlencode({"token": token}), headers=FORM
    )
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert 'role="alert"' in response.text
    assert '<form method="post" action="/console/login"' in response.text
    if token:
        assert token not in response.text  # what was typed is not echoed back


def test_a_login_body_that_is_not_a_form_is_refused(api: ApiUnderTest) -> None:
    token = api.token(TENANT, "read")
    client = api.raw_client()
    as_json = client.post("/console/login", json={"token": token})
    assert as_json.status_code == 401
    assert "set-cookie" not in as_json.headers
    garbled = client.post("/console/login", content=b"token=\xff\xfe", headers=FORM)
    assert garbled.status_code == 401


def test_a_revoked_token_is_refused_and_signs_the_console_out(api: ApiUnderTest) -> None:
    client = signed_in(api, scope="admin")
    assert client.get("/console/ledger").status_code == 200
    revoke(api, TENANT, "admin")

    response = client.get("/console/ledger")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?")
    [cleared] = response.headers.get_list("set-cookie")
    assert cleared.startswith(f"{COOKIE}=") and "Max-Age=0" in cleared

    again = api.raw_client().post(
        "/console/login", content=urlencode({"token": api.token(TENANT, "admin")}), headers=FORM
    )
    assert again.status_code == 401
    assert "unknown or revoked" in again.text
    assert "set-cookie" not in again.headers


def test_a_bearer_header_opens_the_pages_too(api: ApiUnderTest) -> None:
    client = api.client(TENANT, "read")
    assert "<h1>Palette</h1>" in page(client, "/console/palette")
    assert "<h1>Ledger" in page(client, "/console/ledger")
    wrong = api.raw_client({"Authorization": "Bearer pb_unknown"}).get("/console/palette")
    assert wrong.status_code == 303


def test_a_form_posted_from_another_origin_is_refused(api: ApiUnderTest) -> None:
    evil = {**FORM, "Origin": "https://evil.example"}
    client = api.raw_client()
    login = client.post(
        "/console/login", content=urlencode({"token": api.token(TENANT, "read")}), headers=evil
    )
    assert login.status_code == 403
    assert "set-cookie" not in login.headers
    client = signed_in(api)
    logout = client.post("/console/logout", headers={"Origin": "https://evil.example"})
    assert logout.status_code == 403
    assert "set-cookie" not in logout.headers
    for site in ("cross-site", "same-site"):
        refused = client.post("/console/logout", headers={"Sec-Fetch-Site": site})
        assert refused.status_code == 403, site
    # A browser under the console's no-referrer policy sends Origin: null with its own forms.
    own = client.post(
        "/console/logout", headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    )
    assert own.status_code == 303
    assert client.post("/console/logout", headers={"Origin": api.base_url}).status_code == 303


# -- the palette -----------------------------------------------------------------------------


def test_the_palette_shows_every_tile_in_catalog_order_connected_or_not(
    api: ApiUnderTest,
) -> None:
    with api.runtime.store.sessions.begin() as session:
        connect(session, TENANT, "ninjaone", instance_url="https://app.ninjarmm.com")
    client = signed_in(api)
    text = page(client, "/console/palette")
    shown = tiles(text)
    with api.runtime.store.sessions() as session:
        records = designer_catalog(api.runtime.catalog, session, TENANT)
    assert list(shown) == [r.group_key for r in records]

    for record in records:
        tile = shown[record.group_key]
        assert f'data-icon="{record.icon_token}"' in tile
        assert f"<h3>{html.escape(record.label)}</h3>" in tile
        for action in record.actions:
            assert f"{action.id}@{action.version}" in tile

    ninja = shown["app:ninjaone"]
    assert 'class="tile"' in ninja
    assert '<span class="badge badge-on">Connected</span>' in ninja
    assert "Disconnected" not in ninja

    huntress = shown["app:huntress"]
    assert 'class="tile tile-off"' in huntress
    assert ">Disconnected</span>" in huntress
    assert "Huntress is not connected" in huntress
    assert "patchbay connect huntress --tenant acme" in huntress
    # Core groups need no connection: neither badge.
    assert "badge" not in shown["ticket"]
    assert "1 app connected, 4 disconnected" in text


def test_each_action_lists_its_inputs_from_its_json_schema(api: ApiUnderTest) -> None:
    text = page(signed_in(api), "/console/palette")
    ticket = tiles(text)["ticket"]
    create = ticket[ticket.index('<span class="action-label">Create ticket</span>') :]
    create = create[: create.index("</details>")]
    assert "tickets.create@1" in create
    title = create[create.index('<code class="field-name">title</code>') :]
    assert title.index("string") < title.index("required") < title.index("What the ticket is")
    priority = create[create.index('<code class="field-name">priority</code>') :]
    priority = priority[: priority.index("</li>")]
    # The enum's values, the default, and that it may be left out.
    for value in ("low", "medium", "high", "critical"):
        assert f"&#34;{value}&#34;" in priority
    assert "optional, default &#34;medium&#34;" in priority
    assert "changes things" in create
    # A long enum (every time zone) is counted in the type and listed on demand.
    scheduling = tiles(text)["scheduling"]
    zone = scheduling[scheduling.index('<code class="field-name">window.timezone</code>') :]
    zone = zone[: zone.index("</li>")]
    assert re.search(r"string, one of \d+ values", zone)
    assert '<details class="values"><summary>The ' in zone
    assert "<code>Europe/Berlin</code>" in zone


def test_an_icon_token_drawn_nowhere_gets_the_generic_icon() -> None:
    unknown = icon('brand-new"><b>')
    assert 'data-icon="brand-new&quot;&gt;&lt;b&gt;"' in unknown
    assert GLYPHS["app"].paths in unknown
    assert GLYPHS["ninjaone"].paths in icon("ninjaone")


# -- the ledger and one step ---------------------------------------------------------------


def test_the_ledger_shows_a_step_just_run(api: ApiUnderTest) -> None:
    key = "run-7:root.steps[0]:tickets.create@1"
    result = run_step(api, key, run_id="run-7", step_path="root.steps[0]")
    assert result["status"] == "SUCCEEDED"
    client = signed_in(api)

    text = page(client, "/console/ledger")
    link = "/console/steps/" + quote(key, safe=":@")
    assert f'href="{link}"' in text
    assert "Create ticket" in text
    assert '<span class="pill pill-succeeded">SUCCEEDED</span>' in text
    assert '<td data-label="Attempts" class="num"><div class="cell">1</div></td>' in text
    took = re.search(TOOK, text)
    assert took is not None and re.fullmatch(r"\d+(\.\d)? m?s", took.group(1))
    assert REFRESH not in text  # nothing in flight

    # Linked by run: the run's own view, and filters that leave it out.
    assert f'href="/console/ledger?{urlencode({"run_id": "run-7"})}"' in text
    assert link in page(client, "/console/ledger", run_id="run-7")
    assert link not in page(client, "/console/ledger", run_id="run-8")
    assert link in page(client, "/console/ledger", action_id="tickets.create", status="SUCCEEDED")
    assert link not in page(client, "/console/ledger", status="FAILED")

    step = page(client, link)
    assert "<h1>Create ticket" in step
    assert key in step
    assert "Disk full on SRV-DC01" in step  # the input
    assert "ticket_id" in step  # the output
    assert "<h2>History</h2>" in step
    assert REFRESH not in step


def test_the_ledger_shows_errors_and_what_a_waiting_step_waits_for(api: ApiUnderTest) -> None:
    waiting_step(api, "wait-1", "agent SRV-DC01 is offline; the script runs when it is back")
    failed_step(api, "fail-1", "the vendor refused the ticket", "board is archived")
    client = signed_in(api)
    text = page(client, "/console/ledger")
    assert '<span class="pill pill-waiting">WAITING</span>' in text
    assert "Waiting for agent SRV-DC01 is offline; the script runs when it is back" in text
    due = api.runtime.pipeline.ledger.get(TENANT, "wait-1")
    assert due is not None and due.next_check_at is not None
    assert f'Next check <time datetime="{iso_text(due.next_check_at)}">' in text
    assert re.search(r"\(in (59 min \d+ s|1 h 0 min)\)", text)

    assert '<span class="pill pill-failed">FAILED</span>' in text
    assert '<code class="code">VENDOR_ERROR</code> the vendor refused the ticket' in text
    assert "Vendor answered 502: board is archived" in text

    step = page(client, "/console/steps/wait-1")
    assert "Next check" in step
    assert "&#34;job&#34;: 7" in step  # the wait's saved state


def test_the_ledger_refreshes_itself_only_while_a_step_is_in_flight(api: ApiUnderTest) -> None:
    run_step(api, "done-1")
    client = signed_in(api)
    assert REFRESH not in page(client, "/console/ledger")

    waiting_step(api, "wait-1", "the vendor to finish")
    text = page(client, "/console/ledger")
    assert f'{REFRESH} content="5">' in text
    assert f'{REFRESH} content="5">' in page(client, "/console/steps/wait-1")
    assert REFRESH not in page(client, "/console/steps/done-1")
    # Filtered to what is final, nothing shown is in flight.
    assert REFRESH not in page(client, "/console/ledger", status="SUCCEEDED")

    Executor(api.runtime).cancel("wait-1", TENANT, by="test")
    assert REFRESH not in page(client, "/console/ledger")
    assert '<span class="pill pill-cancelled">CANCELLED</span>' in page(client, "/console/ledger")


def test_the_ledger_pages_newest_first(api: ApiUnderTest) -> None:
    ledger = api.runtime.pipeline.ledger
    keys = [f"queued-{i:03d}" for i in range(PAGE_SIZE + 5)]
    for key in keys:
        assert ledger.record_queued(request(api, key))
    client = signed_in(api)
    first = page(client, "/console/ledger")
    listed = re.findall(r'href="/console/steps/(queued-\d+)"', first)
    assert len(listed) == PAGE_SIZE
    assert 'href="/console/ledger?offset=50" rel="next"' in first
    assert 'rel="prev"' not in first
    assert "Waiting for a worker" in first
    assert REFRESH in first  # QUEUED is in flight

    second = page(client, "/console/ledger", offset=PAGE_SIZE)
    rest = re.findall(r'href="/console/steps/(queued-\d+)"', second)
    assert sorted(listed + rest) == keys
    assert 'href="/console/ledger" rel="prev"' in second
    assert 'rel="next"' not in second


@pytest.mark.parametrize(
    "params",
    [{"status": "EXPLODED"}, {"offset": "-1"}, {"offset": "many"}, {"run_id": "a\x01b"}],
)
def test_a_filter_the_ledger_cannot_take_is_said_so(
    api: ApiUnderTest, params: dict[str, str]
) -> None:
    run_step(api, "done-1")
    text = page(signed_in(api), "/console/ledger", 422, **params)
    assert "These filters were not applied" in text
    assert "done-1" not in text


def test_another_tenants_step_is_404_and_never_listed(api: ApiUnderTest) -> None:
    run_step(api, "theirs-1", tenant=OTHER_TENANT)
    waiting_step(api, "theirs-2", "their vendor", tenant=OTHER_TENANT)
    run_step(api, "mine-1")
    client = signed_in(api)
    text = page(client, "/console/ledger")
    assert "mine-1" in text
    assert "theirs" not in text
    assert REFRESH not in text  # their WAITING step does not refresh our page
    for key in ("theirs-1", "theirs-2", "nobody-has-this"):
        missing = page(client, f"/console/steps/{key}", 404)
        assert "This tenant has no such step." in missing
        assert key not in missing
    # The other tenant sees its own.
    assert "theirs-1" in page(signed_in(api, OTHER_TENANT), "/console/ledger")


def test_hostile_text_is_escaped_everywhere(api: ApiUnderTest) -> None:
    run_step(api, "hostile-1", run_id=HOSTILE, input={"title": HOSTILE})
    failed_step(api, "<img src=x onerror=alert(1)>", HOSTILE, f"<b>{HOSTILE}</b>")
    waiting_step(api, "hostile-wait", f"<iframe src=//evil>{HOSTILE}")
    client = signed_in(api)
    pages = [
        page(client, "/console/ledger"),
        page(client, "/console/ledger", run_id=HOSTILE),
        page(client, "/console/steps/hostile-1"),
        page(client, "/console/steps/hostile-wait"),
        page(client, "/console/steps/" + quote("<img src=x onerror=alert(1)>", safe="")),
    ]
    for text in pages:
        assert "<script" not in text
        assert "<img" not in text
        assert "<iframe" not in text
        assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in text


# -- headers, secrets, the schema ----------------------------------------------------------


def test_every_console_answer_carries_the_security_headers(api: ApiUnderTest) -> None:
    client = signed_in(api)
    answers = [
        api.raw_client().get("/console/login"),
        api.raw_client().get("/console/palette"),  # the redirect too
        client.get("/console/palette"),
        client.get("/console/ledger"),
        client.get("/console/steps/nobody"),
        client.get("/console/static/console.css"),
    ]
    for response in answers:
        csp = response.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'none'"
        assert directives["style-src"] == "'self'"
        assert directives["form-action"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert "script-src" not in directives  # none: default-src 'none' covers it
        assert "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    css = answers[-1]
    assert css.status_code == 200
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert "@media (max-width: 720px)" in css.text
    assert client.get("/console/static/nope.js").status_code == 404
    assert client.get("/console/static/..%2Froutes.py").status_code == 404
    # Pages hold a tenant's data: not cached.
    assert answers[2].headers["cache-control"] == "no-store"


def test_no_page_ever_shows_a_token(api: ApiUnderTest) -> None:
    run_step(api, "done-1")
    waiting_step(api, "wait-1", "the vendor")
    texts: list[str] = []
    for (tenant, scope), token in api.tokens.items():
        client = signed_in(api, tenant, scope)
        for path in ("/console/palette", "/console/ledger", "/console/steps/done-1"):
            texts.append(client.get(path).text)
        texts.append(client.get("/console/login").text)
        texts.append(
            api.raw_client()
            .post("/console/login", content=urlencode({"token": token + "x"}), headers=FORM)
            .text
        )
    assert len(texts) == 5 * len(api.tokens)
    for text in texts:
        for token in api.tokens.values():
            assert token not in text
        assert "pb_" not in text.replace("pb_…", "")


def test_the_console_is_left_out_of_the_api_schema(api: ApiUnderTest) -> None:
    schema = api.raw_client().get("/openapi.json").json()
    assert not [p for p in schema["paths"] if p.startswith("/console")]
    assert "/v1/palette" in schema["paths"]


def test_a_step_shown_in_flight_says_how_long_it_has_waited(api: ApiUnderTest) -> None:
    ledger = api.runtime.pipeline.ledger
    assert ledger.record_queued(request(api, "queued-1"))
    row = ledger.get(TENANT, "queued-1")
    assert row is not None
    text = page(signed_in(api), "/console/ledger")
    took = re.search(TOOK, text)
    assert took is not None and took.group(1).endswith(" so far")
    assert utcnow() - row.created_at < timedelta(minutes=1)
