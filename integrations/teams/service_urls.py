"""Which Bot Connector service URLs a Teams step may send the bot's token to.

A service URL arrives with every activity Teams sends the bot (and is stored
with its conversation reference), so it is input from outside: a forged
activity could name any host, and the bot's Bot Framework token would go
there. Only Microsoft's Bot Connector hosts are trusted, over https on the
default port:

- ``smba.trafficmanager.net`` (the public cloud's regional paths such as
  ``/amer/`` or ``/emea/``), any ``*.botframework.com``, and any
  ``*.botplatform.cloudes.microsoft.com`` (the reference's list);
- the government clouds: ``smba.infra.gcc.teams.microsoft.com`` (GCC),
  ``smba.infra.gov.teams.microsoft.us`` (GCC High),
  ``smba.infra.dod.teams.microsoft.us`` (DoD), which the reference refused.

Everything else is refused before any request: another ``*.trafficmanager.net``
profile (anyone can create one), look-alikes (``smba.trafficmanager.net.evil.example``,
``evilbotframework.com``), plain http, user info, literal or private
addresses, other ports. Loopback is allowed only in sandbox mode
(``PATCHBAY_SANDBOX``), for the fake Bot Connector, and is off unless
configured.
"""

from __future__ import annotations

from actionkit.errors import IntegrationMisconfigured
from actionkit.outbound import HostRules, OutboundPolicy, OutboundURLRefused, redact_url

SERVICE_URL_HOSTS = HostRules(
    known=(
        "smba.trafficmanager.net",
        "*.botframework.com",
        "*.botplatform.cloudes.microsoft.com",
        "smba.infra.gcc.teams.microsoft.com",
        "smba.infra.gov.teams.microsoft.us",
        "smba.infra.dod.teams.microsoft.us",
    ),
    custom_hosts=False,
)


def trusted_service_url(url: str, *, sandbox: bool) -> str:
    """``url`` without its trailing slash if the bot's token may go there, else a refusal.

    Raises ``IntegrationMisconfigured`` (not retried: the same URL stays
    untrusted) naming the URL with any credential-looking part redacted.
    """
    policy = OutboundPolicy(SERVICE_URL_HOSTS, sandbox=sandbox)
    try:
        parsed = policy.check_url(url)
    except OutboundURLRefused as exc:
        raise _untrusted(url, exc.message) from None
    # Microsoft's hosts serve on 443 only; a loopback fake (sandbox only) on any port.
    if parsed.port not in (None, 443) and SERVICE_URL_HOSTS.matches(parsed.host):
        raise _untrusted(url, f"port {parsed.port} is not the Bot Connector's")
    if parsed.query or parsed.fragment:
        raise _untrusted(url, "a service URL has no query or fragment")
    return str(parsed).rstrip("/")


def _untrusted(url: str, why: str) -> IntegrationMisconfigured:
    shown = redact_url(url)
    return IntegrationMisconfigured(
        f"Untrusted Teams service URL: {shown} ({why}). Teams service URLs are https on "
        "Microsoft's Bot Connector hosts (smba.trafficmanager.net, *.botframework.com, "
        "the government clouds' smba.infra.* hosts); the conversation reference that "
        "named it did not come from Teams",
        details={"service_url": shown, "refused": why},
    )
