"""What every Microsoft integration shares: hosts, the token endpoint, one token cache.

Calendar sync (``integrations.scheduling``) and Teams (``integrations.teams``)
both authenticate as an Entra app with the client-credentials grant, against
Microsoft's own hosts only, and both count against one throttle key per
tenant (``microsoft``), whichever module calls.

:func:`cached_token` keeps an access token in a tenant secret (encrypted, shared
by every worker) until shortly before it expires; concurrent refreshes by
several workers coalesce through ``ctx.update_secret`` (one takes the row's
lock and asks Microsoft, the others find its token), and a forced refresh
after a 401 replaces only the token that was refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from actionkit.context import TenantContext
from actionkit.errors import IntegrationMisconfigured, VendorError
from actionkit.http import VendorClient, error_for_response
from actionkit.outbound import HostRules

# Microsoft's APIs share one throttle key per tenant, whichever module calls
# them (set a ceiling with PATCHBAY_RATE_LIMITS='{"microsoft": "..."}').
MICROSOFT = "microsoft"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
DEFAULT_LOGIN_URL = "https://login.microsoftonline.com"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
# Microsoft's hosts (global, US Government, DoD, China). No custom host: other
# login or Graph URLs work only on loopback in sandbox mode (the fakes).
LOGIN_HOSTS = HostRules(
    known=(
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.partner.microsoftonline.cn",
    ),
    custom_hosts=False,
)
GRAPH_HOSTS = HostRules(
    known=(
        "graph.microsoft.com",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
    ),
    custom_hosts=False,
)
# Refresh this long before expiry so a token never dies mid-request (or at half
# its lifetime, for tokens that live less than twice this).
REFRESH_MARGIN = 300.0


class MicrosoftLogin(VendorClient):
    """The identity platform's token endpoint (``POST /{tenant}/oauth2/v2.0/token``)."""

    vendor = "Microsoft identity platform"
    throttle_key = MICROSOFT

    def client_credentials(
        self,
        aad_tenant: str,
        client_id: str,
        client_secret: SecretStr,
        *,
        scope: str,
        refused: str,
    ) -> dict[str, Any]:
        """The token response for the app; ``refused`` says what to check when Microsoft says no.

        A 400 or 401 (a wrong id, secret or tenant: not something a retry fixes)
        is INTEGRATION_MISCONFIGURED naming Microsoft's error code, never the secret.
        """
        response = self.send(
            "POST",
            f"/{aad_tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret.get_secret_value(),
                "scope": scope,
            },
            mutating=False,
            authenticated=False,
        )
        if response.status_code in (400, 401):
            body = response.json() if response.content else {}
            code = body.get("error", response.status_code) if isinstance(body, dict) else ""
            raise IntegrationMisconfigured(f"Microsoft refused {refused} ({code})")
        if response.is_error:
            raise error_for_response(response, self.vendor)
        data = response.json()
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise VendorError("Microsoft token response did not include an access token.")
        return data


class MicrosoftBearerClient(VendorClient):
    """A Microsoft API client sending a bearer token, replaced once after a 401.

    ``token_source(force)`` gives the token (``force``: the last one was
    refused); the request is then replayed once (``VendorClient.request``).
    """

    throttle_key = MICROSOFT

    def __init__(self, base_url: str, token_source: Callable[[bool], str], **kwargs: Any):
        super().__init__(base_url, **kwargs)
        self._token_source = token_source
        self._token = token_source(False)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def on_unauthorized(self, response: httpx.Response) -> bool:
        self._token = self._token_source(True)
        return True


def cached_token(
    ctx: TenantContext,
    secret_name: str,
    fetch: Callable[[], Mapping[str, Any]],
    *,
    force: bool,
    owner: str = "",
    clock: Callable[[], float] = time.time,
) -> str:
    """A valid access token kept in the tenant secret ``secret_name``, fetched at most once.

    ``fetch`` asks Microsoft (a token response: ``access_token``, ``expires_in``).
    ``force`` (after a 401): replace the stored token unless another worker
    already has, while this one waited for the lock. ``owner``: whose token it
    is (e.g. the authority and app id); a stored token of another owner (the
    tenant changed its app since) is not used but replaced.
    """
    stale: str | None = None
    if force:
        current = ctx.secret(secret_name)
        if current is not None:
            stale = _load(current).get("access_token")

    def refresh(current: SecretStr | None) -> str | None:
        cached = _load(current) if current is not None else {}
        refresh_at = cached.get("refresh_at", cached.get("expires_at", 0) - REFRESH_MARGIN)
        still_good = float(refresh_at) > clock() and cached.get("owner", "") == owner
        replaced = force and cached.get("access_token") != stale
        if still_good and (not force or replaced):
            return None
        issued = fetch()
        lifetime = float(issued.get("expires_in", 3600))
        now = clock()
        return json.dumps(
            {
                "access_token": issued["access_token"],
                "owner": owner,
                "expires_at": now + lifetime,
                "refresh_at": now + max(lifetime - REFRESH_MARGIN, lifetime / 2),
            }
        )

    stored = ctx.update_secret(secret_name, refresh)
    assert stored is not None
    token: str = _load(stored)["access_token"]
    return token


def _load(secret: SecretStr) -> dict[str, Any]:
    try:
        data = json.loads(secret.get_secret_value())
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
