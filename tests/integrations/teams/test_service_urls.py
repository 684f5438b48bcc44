"""Trusted Bot Connector service URLs: Microsoft's hosts over https, nothing else.

A service URL comes from an activity sent to the bot (stored with its
conversation reference), so it is input from outside; the bot's token must
never go to a host it names unless that host is Microsoft's Bot Connector.
"""

from __future__ import annotations

import pytest

from actionkit.errors import IntegrationMisconfigured
from integrations.teams.service_urls import trusted_service_url


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        ("https://smba.trafficmanager.net/amer/", "https://smba.trafficmanager.net/amer"),
        ("https://smba.trafficmanager.net/emea", "https://smba.trafficmanager.net/emea"),
        ("https://SMBA.trafficmanager.net/apac/", "https://smba.trafficmanager.net/apac"),
        ("https://europe.webchat.botframework.com/", "https://europe.webchat.botframework.com"),
        ("https://smba.trafficmanager.net:443/amer/", "https://smba.trafficmanager.net/amer"),
        # The government clouds, which the reference refused.
        (
            "https://smba.infra.gcc.teams.microsoft.com/amer/",
            "https://smba.infra.gcc.teams.microsoft.com/amer",
        ),
        (
            "https://smba.infra.gov.teams.microsoft.us/teams/",
            "https://smba.infra.gov.teams.microsoft.us/teams",
        ),
        (
            "https://smba.infra.dod.teams.microsoft.us/teams/",
            "https://smba.infra.dod.teams.microsoft.us/teams",
        ),
    ],
)
def test_microsoft_bot_connector_hosts_are_trusted(url: str, trusted: str) -> None:
    assert trusted_service_url(url, sandbox=False) == trusted


@pytest.mark.parametrize(
    "url",
    [
        # Plain http, even to a Microsoft host.
        "http://smba.trafficmanager.net/amer/",
        # Anyone can create a Traffic Manager profile.
        "https://attacker-profile.trafficmanager.net/",
        # Look-alikes.
        "https://smba.trafficmanager.net.evil.example/amer/",
        "https://evilbotframework.com/",
        "https://botframework.com.evil.example/",
        "https://smba-trafficmanager.net/amer/",
        "https://smba.infra.gcc.teams.microsoft.com.evil.example/",
        "https://smba.infra.gcc.teams.microsoft.co/",
        # Credentials, other ports, queries, addresses, loopback outside sandbox mode.
        "https://user:pass@smba.trafficmanager.net/amer/",
        "https://smba.trafficmanager.net:8443/amer/",
        "https://smba.trafficmanager.net/amer/?redirect=https://evil.example",
        "https://13.107.6.152/amer/",
        "https://169.254.169.254/latest/",
        "http://127.0.0.1:8791/amer/",
        "https://localhost/amer/",
        "not a url",
        "",
    ],
)
def test_everything_else_is_refused_before_any_request(url: str) -> None:
    with pytest.raises(IntegrationMisconfigured, match="Untrusted Teams service URL") as refused:
        trusted_service_url(url, sandbox=False)
    assert refused.value.retryable is False
    assert "pass@" not in refused.value.message


def test_the_sandbox_s_loopback_fake_is_trusted_only_in_sandbox_mode() -> None:
    url = "http://127.0.0.1:8791/amer/"
    assert trusted_service_url(url, sandbox=True) == "http://127.0.0.1:8791/amer"
    with pytest.raises(IntegrationMisconfigured):
        trusted_service_url(url, sandbox=False)
    # Sandbox mode adds loopback, nothing else: private addresses stay refused.
    with pytest.raises(IntegrationMisconfigured):
        trusted_service_url("http://10.0.0.5:8791/amer/", sandbox=True)
    with pytest.raises(IntegrationMisconfigured):
        trusted_service_url("https://attacker-profile.trafficmanager.net/", sandbox=True)
