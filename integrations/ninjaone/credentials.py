"""A tenant's NinjaOne OAuth state in the secret store, refreshed once however many workers ask.

Secrets (per tenant):

- ``ninjaone_client_id`` / ``ninjaone_client_secret``: the API client app;
- ``ninjaone_credentials``: JSON ``{"refresh_token", "access_token",
  "expires_at"}`` (``expires_at`` in epoch seconds), rewritten on every refresh
  because NinjaOne rotates refresh tokens: the one presented stops working;
- ``ninjaone_refresh_token`` (optional): a refresh token as a tenant admin
  pastes it (``patchbay connect ninjaone --secret ninjaone_refresh_token=...``).
  It seeds ``ninjaone_credentials`` on first use, and again whenever the admin
  stores a different one (a reconnect); the credentials remember a fingerprint
  (``seeded_from``) of the token they were seeded from to tell the two apart.

A refresh happens five minutes before expiry, or after a 401. It runs inside
``ctx.update_secret``: the stored value is re-read under a lock held by every
other worker of the tenant, so when two actions need a refresh at once the
second finds the first one's new token and uses it instead of presenting the
refresh token the first one has just rotated away. Seeding locks the
``ninjaone_refresh_token`` secret instead, because ``ninjaone_credentials``
may not exist yet and a row that does not exist cannot be locked.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass

from pydantic import SecretStr

from actionkit.context import TenantContext
from actionkit.errors import IntegrationMisconfigured
from integrations.ninjaone.client import NinjaOneClient, RefreshTokenRejected

# Names of secrets, not values.
CREDENTIALS_NAME = "ninjaone_credentials"
SEED_TOKEN_NAME = "ninjaone_refresh_token"
CLIENT_ID_NAME = "ninjaone_client_id"
CLIENT_SECRET_NAME = "ninjaone_client_secret"
REFRESH_MARGIN = 300.0


def fingerprint(token: str) -> str:
    """A short, one-way name for a token (to notice a new one without storing it twice)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StoredCredentials:
    """The value of ``ninjaone_credentials``."""

    refresh_token: str | None
    access_token: str | None
    expires_at: float | None
    seeded_from: str | None = None

    @classmethod
    def parse(cls, raw: SecretStr) -> StoredCredentials:
        """Read the secret; INTEGRATION_MISCONFIGURED (never quoting it) when malformed."""
        try:
            data = json.loads(raw.get_secret_value())
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise _malformed()
        refresh, access, expires, seed = (
            data.get("refresh_token"),
            data.get("access_token"),
            data.get("expires_at"),
            data.get("seeded_from"),
        )
        if not all(v is None or isinstance(v, str) for v in (refresh, access, seed)):
            raise _malformed()
        if expires is not None and (
            isinstance(expires, bool)
            or not isinstance(expires, int | float)
            or not math.isfinite(expires)
        ):
            raise _malformed()
        if not refresh and not access:
            raise _malformed()
        return cls(
            refresh_token=refresh or None,
            access_token=access or None,
            expires_at=None if expires is None else float(expires),
            seeded_from=seed,
        )

    def dumps(self) -> str:
        """The secret's value."""
        data: dict[str, object] = {
            "refresh_token": self.refresh_token,
            "access_token": self.access_token,
            "expires_at": self.expires_at,
        }
        if self.seeded_from is not None:
            data["seeded_from"] = self.seeded_from
        return json.dumps(data)

    def usable_at(self, now: float) -> bool:
        """An access token that does not expire within the refresh margin."""
        return (
            self.access_token is not None
            and self.expires_at is not None
            and now < self.expires_at - REFRESH_MARGIN
        )


def _malformed() -> IntegrationMisconfigured:
    return IntegrationMisconfigured(
        f"the {CREDENTIALS_NAME} secret is not valid JSON of the form "
        '{"refresh_token", "access_token", "expires_at"}; store a new refresh token with '
        f"patchbay connect ninjaone --secret {SEED_TOKEN_NAME}=@file",
        details={"invalid": CREDENTIALS_NAME},
    )


def _required(ctx: TenantContext, name: str) -> str:
    value = ctx.secret(name)
    if value is None or not value.get_secret_value().strip():
        raise IntegrationMisconfigured(
            f"the NinjaOne secret {name} is not set for tenant {ctx.tenant_id}; store it with "
            f"patchbay connect ninjaone --tenant {ctx.tenant_id} --secret {name}=@file",
            details={"missing": name},
        )
    return value.get_secret_value().strip()


class TenantTokens:
    """A :class:`~integrations.ninjaone.client.TokenSource` backed by the tenant's secrets."""

    def __init__(self, ctx: TenantContext) -> None:
        self._ctx = ctx
        self._client_id = _required(ctx, CLIENT_ID_NAME)
        self._client_secret = _required(ctx, CLIENT_SECRET_NAME)
        seed = ctx.secret(SEED_TOKEN_NAME)
        self._seed = seed.get_secret_value().strip() if seed is not None else None
        raw = ctx.secret(CREDENTIALS_NAME)
        self._creds = StoredCredentials.parse(raw) if raw is not None else None
        if self._creds is None and not self._seed:
            raise IntegrationMisconfigured(
                f"NinjaOne credentials are not configured for tenant {ctx.tenant_id}: neither "
                f"{CREDENTIALS_NAME} nor {SEED_TOKEN_NAME} is set. Store a refresh "
                f"token with patchbay connect ninjaone --tenant {ctx.tenant_id} "
                f"--secret {SEED_TOKEN_NAME}=@file",
                details={"missing": CREDENTIALS_NAME},
            )

    def __repr__(self) -> str:
        return f"TenantTokens(tenant={self._ctx.tenant_id!r})"

    def _now(self) -> float:
        return self._ctx.now().timestamp()

    def _reseed(self, creds: StoredCredentials | None) -> bool:
        """Whether an admin stored a refresh token these credentials did not come from."""
        return bool(self._seed) and (
            creds is None or creds.seeded_from != fingerprint(self._seed or "")
        )

    def _remember(self, creds: StoredCredentials) -> StoredCredentials:
        self._creds = creds
        return creds

    def access_token(self, client: NinjaOneClient) -> str:
        creds = self._creds
        if (
            creds is not None
            and creds.access_token
            and not self._reseed(creds)
            and creds.usable_at(self._now())
        ):
            return creds.access_token
        return self.refresh(client, rejected=creds.access_token if creds else None)

    def refresh(self, client: NinjaOneClient, rejected: str | None) -> str:
        try:
            if self._reseed(self._creds):
                refreshed = self._seed_credentials(client, rejected)
            else:
                refreshed = self._rotate(client, rejected)
        except RefreshTokenRejected as exc:
            raise IntegrationMisconfigured(
                f"{exc.message}. It was revoked, expired or already used: reconnect NinjaOne "
                "by authorizing patchbay again (authorization-code flow with the offline_access "
                "scope) and storing the new refresh token with patchbay connect ninjaone "
                f"--tenant {self._ctx.tenant_id} --secret {SEED_TOKEN_NAME}=@file",
                vendor=exc.vendor,
                details={"invalid": CREDENTIALS_NAME},
            ) from None
        if refreshed:
            self._ctx.logger.info("NinjaOne access token refreshed")
        assert self._creds is not None and self._creds.access_token is not None
        return self._creds.access_token

    def _adoptable(self, stored: StoredCredentials | None, rejected: str | None) -> bool:
        """Whether another worker stored a token since this one was refused or expired."""
        return (
            stored is not None
            and not self._reseed(stored)
            and stored.access_token != rejected
            and stored.usable_at(self._now())
        )

    def _exchange(
        self, client: NinjaOneClient, refresh_token: str, seeded_from: str | None
    ) -> StoredCredentials:
        now = self._now()
        grant = client.exchange_refresh_token(
            refresh_token, client_id=self._client_id, client_secret=self._client_secret
        )
        rotated = grant.refresh_token.get_secret_value() if grant.refresh_token else None
        return self._remember(
            StoredCredentials(
                # Without a rotated token in the answer the old one stays valid.
                refresh_token=rotated or refresh_token,
                access_token=grant.access_token.get_secret_value(),
                expires_at=round(now + grant.expires_in, 3),
                seeded_from=seeded_from,
            )
        )

    def _rotate(self, client: NinjaOneClient, rejected: str | None) -> bool:
        """Refresh with the stored refresh token, under the lock on the stored credentials."""
        refreshed = False

        def update(current: SecretStr | None) -> str | None:
            nonlocal refreshed
            stored = StoredCredentials.parse(current) if current is not None else None
            if stored is not None and self._adoptable(stored, rejected):
                self._remember(stored)  # another worker refreshed while this one waited
                return None
            if stored is None or not stored.refresh_token:
                raise IntegrationMisconfigured(
                    f"the NinjaOne access token expired and {CREDENTIALS_NAME} holds no refresh "
                    f"token; store one with patchbay connect ninjaone --tenant "
                    f"{self._ctx.tenant_id} --secret {SEED_TOKEN_NAME}=@file",
                    details={"invalid": CREDENTIALS_NAME},
                )
            refreshed = True
            return self._exchange(client, stored.refresh_token, stored.seeded_from).dumps()

        self._ctx.update_secret(CREDENTIALS_NAME, update)
        return refreshed

    def _seed_credentials(self, client: NinjaOneClient, rejected: str | None) -> bool:
        """First use of a pasted refresh token, under the lock on that token's secret.

        The credentials may not exist yet, so there is no row of theirs to lock
        across processes; the seed's row stands in. Whoever holds it re-reads
        the credentials first, so a second worker finds the first one's token
        instead of presenting the seed NinjaOne has just rotated away.
        """
        refreshed = False

        def update(current: SecretStr | None) -> str | None:
            nonlocal refreshed
            self._seed = current.get_secret_value().strip() if current is not None else None
            raw = self._ctx.secret(CREDENTIALS_NAME)
            stored = StoredCredentials.parse(raw) if raw is not None else None
            if self._adoptable(stored, rejected) and stored is not None:
                self._remember(stored)
                return None
            if not self._seed:
                raise IntegrationMisconfigured(
                    f"the {SEED_TOKEN_NAME} secret was removed while in use; store a refresh "
                    f"token with patchbay connect ninjaone --tenant {self._ctx.tenant_id} "
                    f"--secret {SEED_TOKEN_NAME}=@file",
                    details={"missing": SEED_TOKEN_NAME},
                )
            new = self._exchange(client, self._seed, fingerprint(self._seed))
            self._ctx.set_secret(CREDENTIALS_NAME, new.dumps())
            refreshed = True
            return None  # the seed itself stays as the admin stored it

        self._ctx.update_secret(SEED_TOKEN_NAME, update)
        return refreshed
