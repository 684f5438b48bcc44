"""A stored conversation reference naming an untrusted service URL: refused, nothing sent.

A reference's service URL came from an activity sent to the bot, so a forged
one could send the bot's token anywhere. The steps refuse it before any
request: no message, and no token request either (the fake's log stays
empty). Some of the URLs below point at the fake itself (loopback, which
sandbox mode would otherwise allow), so a step that did send would be seen.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sandbox.microsoft import DEMO_CHANNEL_ID, DEMO_TEAM_ID
from tests.integrations.teams.conftest import CANARIES, TeamsHarness

PASSWORD_IN_URL = "CANARYurlpass"


def _port(harness: TeamsHarness) -> str:
    return harness.url.rsplit(":", 1)[1]


UNTRUSTED: dict[str, Callable[[TeamsHarness], str]] = {
    # Anyone can create a Traffic Manager profile.
    "traffic-manager-profile": lambda h: "https://attacker.trafficmanager.net/",
    "traffic-manager-region": lambda h: "https://attacker-profile.trafficmanager.net/amer/",
    # Look-alikes.
    "suffix-look-alike": lambda h: "https://smba.trafficmanager.net.evil.example/amer/",
    "prefix-look-alike": lambda h: "https://evilbotframework.com/",
    "userinfo-look-alike": lambda h: "https://smba.trafficmanager.net@evil.example/amer/",
    # Plain http to a Microsoft host, or to any host that is not loopback.
    "http-microsoft": lambda h: "http://smba.trafficmanager.net/amer/",
    "http-private-address": lambda h: "http://10.0.0.5/amer/",
    "http-public-host": lambda h: "http://psa.example.com/amer/",
    # Another port on a Microsoft host.
    "microsoft-other-port": lambda h: "https://smba.trafficmanager.net:8443/amer/",
    # The fake itself (reachable), but with a password, a query or a fragment.
    "fake-with-password": lambda h: f"http://bot:{PASSWORD_IN_URL}@127.0.0.1:{_port(h)}/amer/",
    "fake-with-query": lambda h: f"{h.service_url}?next=https://evil.example/",
    "fake-with-fragment": lambda h: f"{h.service_url}#x",
}


def _check_refused(harness: TeamsHarness, action: str, args: dict[str, str], url: str) -> None:
    error = harness.error(action, args)
    assert error["code"] == "INTEGRATION_MISCONFIGURED", (url, error)
    assert error["retryable"] is False
    assert error["message"].startswith("Untrusted Teams service URL")
    text = json.dumps(error)
    assert PASSWORD_IN_URL not in text
    for canary in CANARIES:
        assert canary not in text
    assert harness.vendor_calls() == 0  # not the message, not even a token
    assert harness.fake.sent_activities() == []


def test_send_dm_refuses_an_untrusted_service_url_before_any_request(
    harness: TeamsHarness,
) -> None:
    for make in UNTRUSTED.values():
        url = make(harness)
        harness.record(harness.personal_conversation, "personal", service_url=url)
        _check_refused(harness, "send_dm", harness.dm(), url)


def test_post_to_channel_refuses_an_untrusted_service_url_before_any_request(
    harness: TeamsHarness,
) -> None:
    for make in UNTRUSTED.values():
        url = make(harness)
        harness.record(
            DEMO_CHANNEL_ID,
            "channel",
            service_url=url,
            team_id=DEMO_TEAM_ID,
            channel_id=DEMO_CHANNEL_ID,
        )
        _check_refused(
            harness, "post_to_channel", {"channel_id": DEMO_CHANNEL_ID, "message": "Hello"}, url
        )


def test_the_fakes_loopback_service_urls_are_trusted_in_sandbox_mode(
    harness: TeamsHarness,
) -> None:
    for url in (
        harness.service_url,
        harness.service_url.rstrip("/"),
        harness.fake.service_url(harness.url, region="emea"),
        f"{harness.url}/amer/{harness.seed['tenant_id']}/",
    ):
        harness.record(harness.personal_conversation, "personal", service_url=url)
        assert harness.ok("send_dm", harness.dm(message=url))["sent"] is True
        assert harness.fake.personal_messages(harness.adele_id)[-1]["text"] == url
    assert len(harness.fake.personal_messages(harness.adele_id)) == 4
