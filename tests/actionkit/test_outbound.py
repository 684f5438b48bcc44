"""The outbound URL policy: which URLs may receive a tenant's credentials.

Each refusal is proved with a capture server on loopback that must see no
connection at all; each test also has a control in which the same request
*is* allowed (sandbox mode), so a capture server that could not see anything
would fail the control.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest

from actionkit.errors import IntegrationMisconfigured
from actionkit.http import VendorClient
from actionkit.outbound import (
    ANY_PUBLIC_HOST,
    HostRules,
    OutboundPolicy,
    OutboundURLRefused,
    redact_url,
)
from tests.capture import CaptureServer

NINJA = HostRules(known=("app.ninjarmm.com", "eu.ninjarmm.com"))

# The auditor's dangerous URLs and their relatives: metadata service, private,
# loopback, link-local, multicast, unspecified, shared, IPv4-mapped/-embedded
# IPv6, decimal/octal/hex IPv4 spellings, plain http, userinfo, garbage.
DANGEROUS = [
    "http://169.254.169.254",
    "http://10.1.2.3:8080",
    "http://2852039166",
    "http://[::ffff:169.254.169.254]",
    "http://example.com",
    "garbage",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.1.2.3:8080",
    "https://192.168.1.10",
    "https://172.16.0.1",
    "https://2852039166",
    "https://0xa9fea9fe",
    "https://0xa9.0xfe.0xa9.0xfe",
    "https://0251.0376.0251.0376",
    "https://169.254.43518",
    "https://127.1",
    "https://[::ffff:169.254.169.254]",
    "https://[::ffff:a9fe:a9fe]",
    "https://[::ffff:127.0.0.1]",
    "https://[::127.0.0.1]",
    "https://[64:ff9b::a9fe:a9fe]",
    "https://[2002:a9fe:a9fe::1]",
    "https://[::1]",
    "https://[fe80::1]",
    "https://[fc00::1]",
    "https://[ff02::1]",
    "https://[::]",
    "https://0.0.0.0",
    "https://224.0.0.1",
    "https://100.64.0.1",
    "https://127.0.0.1",
    "https://localhost",
    "https://api.localhost",
    "https://admin:hunter2@eu.ninjarmm.com",
    "https://:hunter2@eu.ninjarmm.com",
    "ftp://eu.ninjarmm.com",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("url", DANGEROUS)
@pytest.mark.parametrize("custom", [False, True])
def test_every_dangerous_url_is_refused_whatever_the_connection_allows(
    url: str, custom: bool
) -> None:
    policy = OutboundPolicy(NINJA, allow_custom_host=custom)
    with pytest.raises(OutboundURLRefused) as refused:
        policy.check_url(url)
    assert "hunter2" not in str(refused.value)
    assert "hunter2" not in refused.value.url


def test_known_hosts_pass_and_others_need_an_explicit_custom_host() -> None:
    assert OutboundPolicy(NINJA).check_url("https://eu.ninjarmm.com/x").host == "eu.ninjarmm.com"
    with pytest.raises(OutboundURLRefused, match="--allow-custom-host"):
        OutboundPolicy(NINJA).check_url("https://ninja.example.com")
    allowed = OutboundPolicy(NINJA, allow_custom_host=True).check_url("https://ninja.example.com")
    assert allowed.host == "ninja.example.com"
    # A vendor that never varies its hosts refuses others even when asked.
    fixed = HostRules(known=("graph.microsoft.com",), custom_hosts=False)
    with pytest.raises(OutboundURLRefused, match="not one of this vendor's hosts"):
        OutboundPolicy(fixed, allow_custom_host=True).check_url("https://graph.example.com")
    # A self-hosted vendor: any public host.
    assert OutboundPolicy(ANY_PUBLIC_HOST).check_url("https://rmm.example.com").host


def test_wildcard_known_hosts_match_subdomains_only() -> None:
    rules = HostRules(known=("*.botframework.com",))
    assert rules.matches("smba.botframework.com")
    assert rules.matches("a.b.botframework.com")
    assert not rules.matches("botframework.com")
    assert not rules.matches("evilbotframework.com")


def test_sandbox_mode_allows_loopback_and_nothing_else() -> None:
    sandbox = OutboundPolicy(NINJA, sandbox=True)
    for url in ("http://127.0.0.1:8080", "http://localhost:9", "https://[::1]:4443"):
        sandbox.check_url(url)
    for url in (
        "http://10.0.0.1",
        "https://169.254.169.254",
        "http://[::ffff:127.0.0.1]",  # mapped loopback is not loopback to us
        "http://example.com",
        "https://127.1",
        "http://admin:pw@127.0.0.1:8080",
    ):
        with pytest.raises(OutboundURLRefused):
            sandbox.check_url(url)


def test_redact_url_drops_userinfo_and_credential_query_values() -> None:
    shown = redact_url("https://admin:hunter2@h.example.com/p?api_key=k1&page=2&access_token=t1")
    assert "hunter2" not in shown and "admin" not in shown
    assert "k1" not in shown and "t1" not in shown
    assert "page=2" in shown and shown.startswith("https://h.example.com/p?")


def resolver(table: dict[str, Sequence[str]]) -> OutboundPolicy:
    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return OutboundPolicy(ANY_PUBLIC_HOST, resolver=resolve)


@pytest.mark.parametrize(
    "addresses",
    [["10.1.2.3"], ["169.254.169.254"], ["93.184.216.34", "127.0.0.1"], ["::ffff:10.0.0.1"]],
)
def test_a_name_resolving_to_a_private_address_is_refused_at_connect_time(
    addresses: list[str],
) -> None:
    policy = resolver({"rmm.example.com": addresses})
    policy.check_url("https://rmm.example.com")  # statically fine
    with pytest.raises(OutboundURLRefused, match="resolves to"):
        policy.check_url("https://rmm.example.com", resolve=True)


def test_an_unresolvable_custom_host_is_refused_at_connect_time() -> None:
    with pytest.raises(OutboundURLRefused, match="does not resolve"):
        resolver({}).check_url("https://typo.example.com", resolve=True)


def _policy_resolving_to(capture: CaptureServer, *, sandbox: bool) -> OutboundPolicy:
    def resolve(host: str, port: int) -> Sequence[str]:
        return ["127.0.0.1"]

    return OutboundPolicy(ANY_PUBLIC_HOST, sandbox=sandbox, resolver=resolve)


def test_the_guarded_transport_refuses_a_name_that_resolves_to_loopback_before_connecting(
    capture: CaptureServer,
) -> None:
    """DNS can change after connect time: every new connection is checked again."""
    policy = _policy_resolving_to(capture, sandbox=False)
    with (
        httpx.Client(transport=policy.guarded_transport()) as client,
        pytest.raises(OutboundURLRefused, match="loopback"),
    ):
        client.get(f"http://rebound.example.com:{capture.port}/v2/devices")
    assert capture.saw_nothing


def test_the_guarded_transport_connects_to_the_address_it_checked(
    capture: CaptureServer,
) -> None:
    """Control: allowed (sandbox), the socket goes to the vetted address, not a new lookup.

    ``pinned.example.com`` does not resolve on this machine; only the policy's
    resolver knows it, so a request that arrives proves the connection used the
    checked address.
    """
    policy = _policy_resolving_to(capture, sandbox=True)
    with httpx.Client(transport=policy.guarded_transport()) as client:
        response = client.get(f"http://pinned.example.com:{capture.port}/ping")
    assert response.status_code == 200
    assert capture.connections == 1
    assert b"host: pinned.example.com" in capture.received[0].lower()


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}",
        "http://2130706433:{port}",
        "http://0x7f.1:{port}",
        "http://[::ffff:127.0.0.1]:{port}",
        "http://localhost:{port}",
        "https://127.0.0.1:{port}",
        "http://admin:hunter2@127.0.0.1:{port}",
    ],
)
def test_a_vendor_client_on_a_refused_url_sends_nothing(
    capture: CaptureServer, template: str
) -> None:
    url = template.format(port=capture.port)

    class Vendor(VendorClient):
        vendor = "Vendor"

    with (
        pytest.raises(IntegrationMisconfigured) as refused,
        Vendor(url, policy=OutboundPolicy(ANY_PUBLIC_HOST)) as client,
    ):
        client.request("POST", "/v1/things", json={"secret": "x"})
    assert "hunter2" not in str(refused.value)
    assert "hunter2" not in str(refused.value.details)
    assert capture.saw_nothing


def test_control_the_same_vendor_client_reaches_loopback_in_sandbox_mode(
    capture: CaptureServer,
) -> None:
    class Vendor(VendorClient):
        vendor = "Vendor"

    url = f"http://127.0.0.1:{capture.port}"
    with Vendor(url, policy=OutboundPolicy(ANY_PUBLIC_HOST, sandbox=True)) as client:
        assert client.request("GET", "/v1/things").status_code == 200
    assert capture.connections == 1


def test_redirects_are_not_followed() -> None:
    hops: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hops.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest"})

    class Vendor(VendorClient):
        vendor = "Vendor"

    policy = OutboundPolicy(NINJA)
    with Vendor(
        "https://eu.ninjarmm.com", policy=policy, transport=httpx.MockTransport(handler)
    ) as client:
        response = client.send("GET", "/v2/devices")
    assert response.status_code == 302
    assert hops == ["https://eu.ninjarmm.com/v2/devices"]
