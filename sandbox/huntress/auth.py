"""Accounts, their users and API keys, and HTTP Basic authentication.

- Every ``/v1`` call carries ``Authorization: Basic base64(<key>:<secret>)``
  (spec: ``securityDefinitions.basic_auth``, ``type: basic``, and its
  "Authentication" section). Missing, another scheme, undecodable, unknown
  key or wrong secret -> 401 ``{"error": "Unauthorized"}`` with
  ``WWW-Authenticate: Basic realm="Huntress API"`` *(choice: the spec lists
  401 and no body; HTTP wants the challenge)*. Authentication runs before
  routing, so an unknown ``/v1`` path without credentials is 401 *(choice)*.
- Two kinds of key (spec, resolution and remediation routes: "the default
  account API key is read-only, so you'll need to create a user-based API
  key with the appropriate permissions"): an *account* key reads only; a
  *user* key acts as one user of the account and may also resolve incident
  reports and approve or reject remediations. A write with an account key
  -> 403 ``{"error": "There was an issue with your API credential or
  permissions."}`` (the spec's 403 description), checked before the
  resource is looked up *(choice)*.
- A key sees only its own account's data; another account's resource is
  404 (spec: 404 is "either it doesn't exist, or your account does not
  hold correct permissions to access it").
- ``GET /v1/account`` -> 200 ``{"account": {...}}``, the key's account
  (the spec's ``Account``: id, name, subdomain, status, support_type,
  neighborhood_watch, billing_address, shipping_address; an address not set
  is null, as its description says).
- Keys look like ``hk_<hex>`` and secrets ``hs_<hex>`` *(choice: the real
  format is not documented)*.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.core import SandboxRequest, json_response, route
from sandbox.huntress.api import FORBIDDEN, ApiError, HuntressApi, error

__all__ = ["ACCOUNT_STATUSES", "KEY_KINDS", "SUPPORT_TYPES", "Account", "ApiKey", "Auth", "User"]

KEY_KINDS = ("user", "account")
ACCOUNT_STATUSES = ("enabled", "disabled")
SUPPORT_TYPES = ("huntress_supported", "partner_supported", "not_applicable")
UNAUTHORIZED = "Unauthorized"
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Huntress API"'}


@dataclass
class User:
    """A person in an account; a user-based key acts as one (``approved_by`` names them)."""

    id: int
    name: str
    email: str

    def view(self) -> dict[str, Any]:
        """The spec's ``User``: ``{id, email, name}``."""
        return {"id": self.id, "email": self.email, "name": self.name}


@dataclass
class Account:
    """A Huntress account (the tenant an API key belongs to)."""

    id: int
    name: str
    subdomain: str
    status: str = "enabled"
    support_type: str = "not_applicable"
    neighborhood_watch: dict[str, int] = field(
        default_factory=lambda: {"edr": 0, "ispm": 0, "itdr": 0, "sat": 0, "siem": 0}
    )
    billing_address: dict[str, str] | None = None
    shipping_address: dict[str, str] | None = None

    def view(self) -> dict[str, Any]:
        """The spec's ``Account``."""
        return {
            "id": self.id,
            "name": self.name,
            "subdomain": self.subdomain,
            "status": self.status,
            "support_type": self.support_type,
            "neighborhood_watch": dict(self.neighborhood_watch),
            "billing_address": self.billing_address,
            "shipping_address": self.shipping_address,
        }


@dataclass
class ApiKey:
    """A key/secret pair of one account; ``user_id`` is None for a read-only account key."""

    key: str
    secret: str
    account_id: int
    kind: str
    user_id: int | None = None

    @property
    def can_write(self) -> bool:
        return self.kind == "user"


class Auth(HuntressApi):
    """Accounts, users and keys, and the check every ``/v1`` call passes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._accounts: dict[int, Account] = {}
        self._users: dict[int, User] = {}
        self._keys: dict[str, ApiKey] = {}

    def add_account(
        self,
        name: str,
        *,
        subdomain: str | None = None,
        status: str = "enabled",
        support_type: str = "not_applicable",
        billing_address: dict[str, str] | None = None,
    ) -> int:
        """A new account (no keys yet); its id. ``subdomain`` defaults to a slug of ``name``."""
        if status not in ACCOUNT_STATUSES or support_type not in SUPPORT_TYPES:
            raise ValueError(f"status: {ACCOUNT_STATUSES}; support_type: {SUPPORT_TYPES}")
        with self._lock:
            account_id = self._new_id("account", 101)
            slug = subdomain or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            self._accounts[account_id] = Account(
                account_id,
                name,
                slug or f"account{account_id}",
                status=status,
                support_type=support_type,
                billing_address=billing_address,
            )
            return account_id

    def account(self, account_id: int) -> Account:
        """An account by id (KeyError when unknown)."""
        with self._lock:
            return self._accounts[account_id]

    def add_user(self, account_id: int, name: str, email: str) -> User:
        """A user of ``account_id`` (what a user-based key acts as)."""
        with self._lock:
            self.account(account_id)
            user = User(self._new_id("user", 9001), name, email)
            self._users[user.id] = user
            return user

    def add_key(
        self,
        account_id: int,
        *,
        kind: str = "user",
        key: str | None = None,
        secret: str | None = None,
        user: User | None = None,
    ) -> tuple[str, str]:
        """A new ``(key, secret)`` of ``account_id``: ``kind`` ``"user"`` or ``"account"``.

        A user key acts as ``user`` (default: a new user of the account); an
        account key is read-only. ``key``/``secret`` default to random values.
        """
        if kind not in KEY_KINDS:
            raise ValueError(f"kind is one of {KEY_KINDS}")
        with self._lock:
            self.account(account_id)
            user_id: int | None = None
            if kind == "user":
                if user is None:
                    n = len([k for k in self._keys.values() if k.account_id == account_id]) + 1
                    sub = self._accounts[account_id].subdomain
                    user = self.add_user(account_id, f"API User {n}", f"api-user-{n}@{sub}.test")
                user_id = user.id
            api_key = ApiKey(
                key or f"hk_{secrets.token_hex(16)}",
                secret or f"hs_{secrets.token_hex(24)}",
                account_id,
                kind,
                user_id,
            )
            self._keys[api_key.key] = api_key
            return api_key.key, api_key.secret

    def revoke_key(self, key: str) -> None:
        """Delete a key: it gets 401 from now on."""
        with self._lock:
            self._keys.pop(key, None)

    def user(self, user_id: int | None) -> User | None:
        """The user a key acts as (None for an account key)."""
        with self._lock:
            return None if user_id is None else self._users.get(user_id)

    # -- authentication ---------------------------------------------------------

    def _authenticate(self, req: SandboxRequest) -> ApiKey | httpx.Response:
        """The request's key, or the 401."""
        scheme, _, value = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return error(401, UNAUTHORIZED, headers=_CHALLENGE)
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return error(401, UNAUTHORIZED, headers=_CHALLENGE)
        key, sep, secret = decoded.partition(":")
        found = self._keys.get(key)
        if not sep or found is None or not hmac.compare_digest(found.secret, secret):
            return error(401, UNAUTHORIZED, headers=_CHALLENGE)
        return found

    @staticmethod
    def caller(req: SandboxRequest) -> ApiKey:
        """The authenticated key of the request being handled."""
        key: ApiKey = req.context["key"]
        return key

    def require_write(self, req: SandboxRequest) -> ApiKey:
        """The caller's key when it may write; ApiError(403) for a read-only account key."""
        key = self.caller(req)
        if not key.can_write:
            raise ApiError(403, FORBIDDEN)
        return key

    # -- routes -------------------------------------------------------------------

    @route("GET", "/v1/account")
    def get_account(self, req: SandboxRequest) -> httpx.Response:
        """The account the credentials belong to."""
        account = self.account(self.caller(req).account_id)
        return json_response(200, {"account": account.view()})
