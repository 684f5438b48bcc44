"""Knox mode: a tenant's Tactical RMM login token, obtained with ``/v2/checkcreds/``.

Secrets (per tenant): ``tacticalrmm_username`` and ``tacticalrmm_password``
(an account without TOTP), and ``tacticalrmm_knox_token``, the token
patchbay obtained and keeps using.

How the vendor really works (vendors.md §1 "Vendor truth", disagreement 3):
``POST /v2/checkcreds/`` answers a non-TOTP account's user name and password
with ``{"expiry", "token", "totp": false}``, a real Knox token that lives
180 s and that Knox's ``AUTO_REFRESH`` extends to its full TTL (5 h) on every
use. That token is what is stored. ``/v2/login/`` is never called: it reads
a TOTP code unconditionally and answers 500 without one (and 500 with one
for an account that has no TOTP). A TOTP account gets ``{"totp": true}``
and no token: patchbay cannot log in unattended, so such an account is told
to use an API key instead.

A token the server refuses (401: expired after 5 h unused, revoked) is
replaced once per request (``TacticalRmmClient.on_unauthorized``). The
replacement runs inside ``ctx.update_secret``: the stored token is re-read
under a lock every worker of the tenant takes, and when it is no longer the
one refused, another worker has already logged in and its token is used
without calling checkcreds again (the vendor allows 10 a minute). Threads of
one process queue on a lock even before any token is stored; across
processes the row lock needs a stored row, so two workers that both start
with no token at all may each log in once (both tokens work; the later one
is kept). ``patchbay connect`` stores a token with the connection, so that
only happens after the token secret is deleted or with ``--no-check``.

No message or log line names a user name, password or token.
"""

from __future__ import annotations

from pydantic import SecretStr

from actionkit.context import TenantContext
from actionkit.errors import IntegrationMisconfigured, VendorDetail, VendorError
from integrations.tacticalrmm.client import CredentialsRefused, TacticalRmmClient

PROVIDER = "tacticalrmm"
# Names of the tenant's Tactical RMM secrets, not values (connection.py re-exports them).
API_KEY_NAME = "tacticalrmm_api_key"
USERNAME_NAME = "tacticalrmm_username"
PASSWORD_NAME = "tacticalrmm_password"
TOKEN_NAME = "tacticalrmm_knox_token"


def _value(secret: SecretStr | None) -> str | None:
    text = secret.get_secret_value().strip() if secret is not None else ""
    return text or None


def _store_login(tenant: str) -> str:
    return (
        f"patchbay connect {PROVIDER} --tenant {tenant} --setting auth_mode=knox "
        f"--secret {USERNAME_NAME}=@file --secret {PASSWORD_NAME}=@file"
    )


class KnoxTokens:
    """A :class:`~integrations.tacticalrmm.client.KnoxTokenSource` backed by the tenant's secrets.

    The token is read once and cached for the client's life (one invocation);
    the user name and password only when a login is needed.
    """

    def __init__(self, ctx: TenantContext) -> None:
        self._ctx = ctx
        self._token: str | None = None

    def __repr__(self) -> str:
        return f"KnoxTokens(tenant={self._ctx.tenant_id!r})"

    def token(self, client: TacticalRmmClient) -> str:
        """The stored token; with none stored, a new one (checkcreds) first."""
        if self._token is None:
            self._token = _value(self._ctx.secret(TOKEN_NAME)) or self.refresh(client, None)
        return self._token

    def login(self, client: TacticalRmmClient) -> str:
        """A new token whatever is stored: proves the user name and password now.

        The connection check's login. A token another worker stores meanwhile
        is used instead, as in :meth:`refresh`.
        """
        return self.refresh(client, rejected=_value(self._ctx.secret(TOKEN_NAME)))

    def refresh(self, client: TacticalRmmClient, rejected: str | None) -> str:
        """A token other than ``rejected``: the stored one if it differs, else a new login.

        ``rejected``: the token the server refused (None: there was none).
        Runs under the tenant's lock on the token secret, so concurrent
        refreshes make one checkcreds call.
        """
        logged_in = False

        def update(current: SecretStr | None) -> str | None:
            nonlocal logged_in
            stored = _value(current)
            if stored is not None and stored != rejected:
                return None  # another worker logged in while this one waited: use its token
            logged_in = True
            return self._check_credentials(client)

        token = _value(self._ctx.update_secret(TOKEN_NAME, update))
        if token is None:  # update() stores a token whenever none is usable
            raise VendorError("Tactical RMM login left no Knox token stored")
        if logged_in:
            self._ctx.logger.info("Tactical RMM Knox token obtained with /v2/checkcreds/")
        self._token = token
        return token

    def _credentials(self) -> tuple[str, str]:
        tenant = self._ctx.tenant_id
        username = _value(self._ctx.secret(USERNAME_NAME))
        secret = self._ctx.secret(PASSWORD_NAME)
        password = secret.get_secret_value() if secret is not None else ""
        missing = [
            name
            for name, value in ((USERNAME_NAME, username), (PASSWORD_NAME, password))
            if not value
        ]
        if username is None or missing:
            raise IntegrationMisconfigured(
                "Tactical RMM Knox credentials are not configured for this tenant (missing "
                f"{', '.join(missing)}); store them with {_store_login(tenant)}",
                details={"missing": missing[0]},
            )
        return username, password

    def _check_credentials(self, client: TacticalRmmClient) -> str:
        """Log in with ``/v2/checkcreds/``: the new token, or why there is none."""
        tenant = self._ctx.tenant_id
        username, password = self._credentials()
        try:
            answer = client.check_credentials(username, password)
        except CredentialsRefused as exc:
            raise IntegrationMisconfigured(
                f"{exc.message}; store the right ones with {_store_login(tenant)}",
                vendor=exc.vendor,
                details={"rejected": [USERNAME_NAME, PASSWORD_NAME]},
            ) from None
        if answer.totp:
            raise IntegrationMisconfigured(
                "the Tactical RMM account uses TOTP two-factor login, so patchbay cannot "
                "log in (or refresh its Knox token) unattended; use an API key instead: "
                f"patchbay connect {PROVIDER} --tenant {tenant} --setting auth_mode=api_key "
                f"--secret {API_KEY_NAME}=@file",
                details={"totp": True},
            )
        token = _value(answer.token)
        if token is None:
            raise VendorError(
                "Tactical RMM's /v2/checkcreds/ answer carried no Knox token",
                vendor=VendorDetail(200, "no token in the answer"),
            )
        return token
