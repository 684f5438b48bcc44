"""LevelClient on its own: the API root, the outbound policy, headers and cursor paging's edges.

The client talks to a scripted ``httpx.MockTransport`` here (what Level
might send that the fake does not: a page without ids, a cursor that does
not move, an answer that is no list); everything else is tested against
FakeLevel through the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from actionkit.errors import IntegrationMisconfigured, RateLimited, VendorError
from actionkit.outbound import OutboundPolicy
from integrations.levelio.client import HOSTS, LevelClient, normalize_base_url

KEY = "LEVEL-unit-test-key-0001"
Answer = Callable[[httpx.Request], httpx.Response]


def client(answer: Answer, url: str = "https://api.level.io", **policy: Any) -> LevelClient:
    return LevelClient(
        url,
        api_key=SecretStr(KEY),
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


@pytest.mark.parametrize(
    ("raw", "root"),
    [
        (None, "https://api.level.io"),
        ("", "https://api.level.io"),
        ("api.level.io", "https://api.level.io"),
        ("https://api.level.io/v2/", "https://api.level.io"),
        ("http://127.0.0.1:8799/", "http://127.0.0.1:8799"),
    ],
)
def test_the_api_root(raw: str | None, root: str) -> None:
    assert normalize_base_url(raw) == root


def test_another_host_needs_allow_custom_host() -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    with pytest.raises(IntegrationMisconfigured, match="known hosts"):
        client(never, "https://level.example.com")
    custom = client(never, "https://level.example.com", allow_custom_host=True)
    assert custom.base_url == "https://level.example.com"


def test_the_raw_key_and_json_headers_go_with_every_request() -> None:
    answer, seen = pages({"data": [], "has_more": False})
    with client(answer) as level:
        assert level.collect("/v2/devices", limit=5) == []
    [request] = seen
    assert request.headers["authorization"] == KEY  # no scheme
    assert request.headers["accept"] == "application/json"
    assert "content-type" not in request.headers
    assert KEY not in repr(level)


def test_paging_stops_without_has_more_on_an_empty_page_or_a_cursor_that_does_not_move() -> None:
    one = {"data": [{"id": "a"}, {"id": "b"}]}  # no has_more: the last page
    answer, seen = pages(one)
    with client(answer) as level:
        assert [i["id"] for i in level.collect("/v2/alerts", limit=None)] == ["a", "b"]
    assert len(seen) == 1

    answer, seen = pages({"data": [{"id": "a"}], "has_more": True}, {"data": [], "has_more": True})
    with client(answer) as level:
        assert [i["id"] for i in level.collect("/v2/alerts", limit=None)] == ["a"]
    assert len(seen) == 2
    assert seen[1].url.params["starting_after"] == "a"

    no_id = {"data": [{"id": "a"}, {"name": "no id"}], "has_more": True}
    answer, seen = pages(no_id)
    with client(answer) as level:
        assert len(level.collect("/v2/alerts", limit=None)) == 2
    assert len(seen) == 1  # no cursor to go on with

    same = {"data": [{"id": "a"}], "has_more": True}
    answer, seen = pages(same, same)
    with client(answer) as level:
        assert len(level.collect("/v2/alerts", limit=None)) == 2
    assert len(seen) == 2  # the cursor did not move: never loop on it


def test_a_bare_array_is_the_whole_list_and_anything_else_is_a_vendor_error() -> None:
    answer, _ = pages([{"id": "w1"}, {"id": "w2"}, "junk"])
    with client(answer) as level:
        assert [i["id"] for i in level.collect("/v2/automations/webhooks", limit=None)] == [
            "w1",
            "w2",
        ]
    answer, _ = pages({"items": []})
    with client(answer) as level, pytest.raises(VendorError, match="unexpected list"):
        level.collect("/v2/devices", limit=1)


def test_a_retry_after_date_is_measured_on_the_clock_the_client_is_given() -> None:
    def limited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429,
            json={"error": "Too many requests"},
            headers={"Retry-After": "Sat, 28 Nov 2026 12:01:00 GMT"},
        )

    noon = 1_795_867_200.0  # 2026-11-28T12:00:00Z
    level = LevelClient(
        None,
        api_key=SecretStr(KEY),
        policy=OutboundPolicy(HOSTS),
        transport=httpx.MockTransport(limited),
        clock=lambda: noon,
    )
    with level, pytest.raises(RateLimited) as caught:
        level.get_json("/v2/devices")
    assert caught.value.retry_after == 60.0
    assert KEY not in caught.value.message
