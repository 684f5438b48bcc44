"""HuntressClient on its own: the API root, Basic auth, unwrapping, token paging's edges, 429s.

The client talks to a scripted ``httpx.MockTransport`` here (what Huntress
might send that the fake does not: a bare account, a token that does not
move, an answer that is no list, a 429 with or without ``Retry-After``);
everything else is tested against FakeHuntress through the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from actionkit.errors import IntegrationMisconfigured, RateLimited, Throttled, VendorError
from actionkit.http import VendorClient
from actionkit.outbound import OutboundPolicy
from actionkit.ratelimit import RateLimit
from integrations.huntress import VENDOR
from integrations.huntress.client import HOSTS, HuntressClient, normalize_base_url
from integrations.huntress.models import WireOrganization
from tests.integrations.huntress.conftest import CANARY_KEY, CANARY_SECRET, basic

Answer = Callable[[httpx.Request], httpx.Response]


def client(answer: Answer, url: str | None = None, **policy: Any) -> HuntressClient:
    return HuntressClient(
        url,
        api_key=SecretStr(CANARY_KEY),
        api_secret=SecretStr(CANARY_SECRET),
        policy=OutboundPolicy(HOSTS, **policy),
        transport=httpx.MockTransport(answer),
    )


def pages(*bodies: Any) -> tuple[Answer, list[httpx.Request]]:
    """An answer serving ``bodies`` in turn, and the requests it saw."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=bodies[len(seen) - 1])

    return answer, seen


def org(n: int) -> dict[str, Any]:
    return {"id": n, "name": f"Org {n}", "agents_count": n}


@pytest.mark.parametrize(
    ("raw", "root"),
    [
        (None, "https://api.huntress.io"),
        ("", "https://api.huntress.io"),
        ("api.huntress.io", "https://api.huntress.io"),
        ("https://api.huntress.io/v1/", "https://api.huntress.io"),
        ("http://127.0.0.1:8799/", "http://127.0.0.1:8799"),
    ],
)
def test_the_api_root(raw: str | None, root: str) -> None:
    assert normalize_base_url(raw) == root


def test_another_host_needs_allow_custom_host() -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    with pytest.raises(IntegrationMisconfigured, match="known hosts"):
        client(never, "https://huntress.example.com")
    custom = client(never, "https://huntress.example.com", allow_custom_host=True)
    assert custom.base_url == "https://huntress.example.com"


def test_basic_auth_and_json_accept_go_with_every_request_and_posts_carry_no_body() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"incident_report": {"id": 7, "status": "closed"}})

    with client(answer) as huntress:
        report = huntress.resolve(7)
    assert report is not None and report.status == "closed"
    [request] = seen
    assert request.url == "https://api.huntress.io/v1/incident_reports/7/resolution"
    assert request.headers["authorization"] == basic(CANARY_KEY, CANARY_SECRET)
    assert request.headers["accept"] == "application/json"
    assert "content-type" not in request.headers and request.content == b""
    assert CANARY_KEY not in repr(huntress) and CANARY_SECRET not in repr(huntress)


def test_the_account_is_read_wrapped_or_bare_and_anything_else_is_a_vendor_error() -> None:
    account = {"id": 5, "name": "MSP", "subdomain": "msp", "status": "enabled"}
    for body in ({"account": account}, account):
        answer, _ = pages(body)
        with client(answer) as huntress:
            assert huntress.account().subdomain == "msp"
    answer, _ = pages(["not", "an", "account"])
    with client(answer) as huntress, pytest.raises(VendorError, match="unexpected account"):
        huntress.account()


def test_a_single_resource_must_come_wrapped() -> None:
    answer, _ = pages({"id": 301, "hostname": "bare"})
    with client(answer) as huntress, pytest.raises(VendorError, match="unexpected agent"):
        huntress.agent(301)


def test_paging_stops_on_the_last_page_an_empty_page_or_a_token_it_was_given_before() -> None:
    answer, seen = pages(
        {"organizations": [org(1), org(2)], "pagination": {"next_page_token": "t1"}},
        {"organizations": [org(3)], "pagination": {}},
    )
    with client(answer) as huntress:
        assert [o.id for o in huntress.organizations(10)] == [1, 2, 3]
    assert [dict(r.url.params) for r in seen] == [
        {"limit": "10"},
        {"limit": "8", "page_token": "t1"},
    ]

    answer, seen = pages(
        {"organizations": [org(1)], "pagination": {"next_page_token": "t1"}},
        {"organizations": [], "pagination": {"next_page_token": "t2"}},
    )
    with client(answer) as huntress:
        assert [o.id for o in huntress.organizations(10)] == [1]
    assert len(seen) == 2

    same = {"organizations": [org(1)], "pagination": {"next_page_token": "t1"}}
    answer, seen = pages(same, same)
    with client(answer) as huntress:
        assert len(huntress.organizations(10)) == 2
    assert len(seen) == 2  # the token did not move: never loop on it


def test_a_filter_huntress_cannot_apply_reads_full_pages_until_enough_match() -> None:
    answer, seen = pages(
        {"organizations": [org(1), org(2)], "pagination": {"next_page_token": "t1"}},
        {"organizations": [org(3), org(4)], "pagination": {"next_page_token": "t2"}},
    )

    def odd(o: WireOrganization) -> bool:
        return o.id % 2 == 1

    with client(answer) as huntress:
        assert [o.id for o in huntress.organizations(2, odd)] == [1, 3]
    assert [r.url.params["limit"] for r in seen] == ["500", "500"]


def test_a_list_answer_without_its_list_is_a_vendor_error() -> None:
    answer, _ = pages({"items": []})
    with client(answer) as huntress, pytest.raises(VendorError, match="organizations page"):
        huntress.organizations(5)


def limited(headers: dict[str, str]) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"error": "Too Many Requests"}, headers=headers)

    return answer


def test_a_429_without_retry_after_is_throttled_for_the_declared_window() -> None:
    with client(limited({})) as huntress, pytest.raises(Throttled) as caught:
        huntress.account()
    assert caught.value.code == "RATE_LIMITED"
    assert caught.value.retryable is True
    window = RateLimit.parse(VENDOR.rate_limit or "").send_window  # from the declaration
    assert caught.value.retry_after == window == pytest.approx(61.2)
    assert caught.value.vendor is not None and caught.value.vendor.status == 429


def test_a_429_with_retry_after_is_throttled_for_what_huntress_says() -> None:
    with client(limited({"Retry-After": "7"})) as huntress, pytest.raises(Throttled) as caught:
        huntress.incident_report(1)
    assert caught.value.retry_after == 7.0


def test_a_client_without_a_rate_window_keeps_the_plain_ladder() -> None:
    class Plain(VendorClient):
        vendor = "Plain"

    plain = Plain(
        "https://api.huntress.io",
        policy=OutboundPolicy(HOSTS),
        transport=httpx.MockTransport(limited({})),
    )
    with plain, pytest.raises(RateLimited) as caught:
        plain.request("GET", "/v1/account")
    assert not isinstance(caught.value, Throttled)
    assert caught.value.retry_after is None


def test_a_401_names_both_secrets_and_never_the_values() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "Unauthorized"})

    with client(refused) as huntress, pytest.raises(IntegrationMisconfigured) as caught:
        huntress.account()
    message = caught.value.message
    assert "huntress_api_key" in message and "huntress_api_secret" in message
    assert CANARY_KEY not in message and CANARY_SECRET not in message
