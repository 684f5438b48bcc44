"""TacticalRmmClient on its own: instance URL normalisation and DRF paging."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from actionkit.errors import IntegrationMisconfigured
from actionkit.outbound import OutboundPolicy
from integrations.tacticalrmm.client import TacticalRmmClient, normalize_instance_url
from integrations.tacticalrmm.connection import HOSTS


@pytest.mark.parametrize(
    ("raw", "root"),
    [
        ("api.example.com", "https://api.example.com"),
        ("  https://api.example.com/  ", "https://api.example.com"),
        ("https://api.example.com/api", "https://api.example.com"),
        ("https://api.example.com/api/", "https://api.example.com"),
        ("https://api.example.com/tactical", "https://api.example.com/tactical"),
        ("http://api.example.com:8000", "http://api.example.com:8000"),
    ],
)
def test_instance_urls_are_normalised_as_the_reference_does(raw: str, root: str) -> None:
    assert normalize_instance_url(raw) == root


@pytest.mark.parametrize("raw", [None, "", "   ", "ftp://api.example.com", "https://"])
def test_a_missing_or_unusable_instance_url_is_a_misconfiguration(raw: str | None) -> None:
    with pytest.raises(IntegrationMisconfigured):
        normalize_instance_url(raw)


def test_paging_follows_next_until_the_vendor_has_no_more() -> None:
    pages = {
        "1": {"count": 3, "next": "https://api.example.com/beta/v1/agent/?page=2",
              "results": [{"agent_id": "a" * 21}, {"agent_id": "b" * 21}]},
        "2": {"count": 3, "next": None, "results": [{"agent_id": "c" * 21}]},
    }  # fmt: skip
    seen: list[str] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["page"])
        assert request.headers["X-API-KEY"] == "k"
        return httpx.Response(200, json=pages[request.url.params["page"]])

    # A public address for the name: the policy never lets credentials go elsewhere.
    policy = OutboundPolicy(HOSTS, resolver=lambda host, port: ["93.184.216.34"])
    with TacticalRmmClient(
        "api.example.com",
        api_key=SecretStr("k"),
        policy=policy,
        transport=httpx.MockTransport(app),
    ) as client:
        assert [a.agent_id for a in client.iter_agents(page_size=2)] == [
            "a" * 21,
            "b" * 21,
            "c" * 21,
        ]
        assert seen == ["1", "2"]
        seen.clear()
        first = next(client.iter_agents(page_size=2))
        assert first.agent_id == "a" * 21 and seen == ["1"]  # stopping iterating stops paging
        assert "k" not in repr(client)
