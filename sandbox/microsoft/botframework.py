"""The Bot Framework's signing keys: how the Bot Connector proves its requests to a bot.

Markers *(choice)* and *(observed)* as in :mod:`sandbox.microsoft`. Source:
the Bot Service article "Authentication with the Bot Connector API",
section "Authenticate requests from the Bot Connector service to your bot"
(steps 2 to 4), and the Bot Framework SDKs' channel validation (the claim
name ``serviceurl``).

Every request the Bot Connector sends to a bot's messaging endpoint carries
``Authorization: Bearer <JWT>``, signed (RS256) with a key the Bot Framework
publishes at ``login.botframework.com``. This fake publishes keys of its own
at the same paths, so a bot's endpoint can be pointed at it (in sandbox mode)
and verify, with no bypass, the tokens :meth:`BotFrameworkSigning.sign_bot_activity`
makes:

- ``GET /v1/.well-known/openidconfiguration`` -> 200 ``{"issuer":
  "https://api.botframework.com", "authorization_endpoint":
  "https://invalid.botframework.com", "jwks_uri": "<origin>/v1/.well-known/keys",
  "id_token_signing_alg_values_supported": ["RS256"],
  "token_endpoint_auth_methods_supported": ["private_key_jwt"]}`` (the
  article's example). ``<origin>`` is the request's own scheme and ``Host``
  *(choice)*: a served fake's port is known only once it is served, and an
  in-process transport answers for whatever base URL its client chose;
- ``GET /v1/.well-known/keys`` -> 200 ``{"keys": [{"kty": "RSA", "use":
  "sig", "kid", "x5t", "n", "e", "endorsements": ["msteams"]}]}``: the
  published keys, JWK with the Bot Framework's extra ``endorsements`` (the
  channel ids a key may sign for). No ``x5c`` certificate chain *(choice:
  verifiers use ``n``/``e``)*.

The metadata URL to configure is ``<base_url>/v1/.well-known/openidconfiguration``
(:meth:`BotFrameworkSigning.bot_openid_metadata_url`).

Tokens (:meth:`BotFrameworkSigning.sign_bot_activity`) carry what the
article's example and the SDKs read: header ``{"alg": "RS256", "typ": "JWT",
"kid", "x5t"}``, claims ``iss`` (``https://api.botframework.com``), ``aud``
(the bot's app id), ``serviceurl`` (the activity's ``serviceUrl``), ``nbf``,
``exp`` (epoch seconds on the fake's clock). Keys are RSA-2048, made when
first needed *(choice: building a fake that never signs stays cheap)*.

Seeding and inspection (thread-safe):

- ``sign_bot_activity(activity, bot_app_id, lifetime=, issued_at=,
  service_url=, key=, kid=, issuer=, algorithm=, claims=)``: the token;
  ``algorithm="none"`` makes an unsigned one, ``key`` a kid of this fake
  (published or not), ``kid`` the header's kid if it should lie;
- ``bot_authorization(...)``: the same as an ``Authorization`` header value;
- ``add_bot_signing_key(publish=, endorsements=)`` -> kid: a key next to the
  current one (``publish=False``: held, never published, for tokens no
  verifier may accept); ``rotate_bot_signing_key(endorsements=,
  retire_previous=)`` -> kid: a new published key that signs from now on;
  ``publish_bot_signing_key(kid)``, ``retire_bot_signing_key(kid)``;
- ``bot_signing_key_ids`` (published, in order), ``current_bot_signing_key``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.core import FakeVendor, SandboxRequest, json_response, route
from sandbox.microsoft.common import BOT_FRAMEWORK_RESOURCE, b64url

__all__ = [
    "BOT_FRAMEWORK_ISSUER",
    "BOT_KEYS_PATH",
    "BOT_OPENID_METADATA_PATH",
    "DEFAULT_ENDORSEMENTS",
    "BotFrameworkSigning",
]

BOT_FRAMEWORK_ISSUER = BOT_FRAMEWORK_RESOURCE
"""The ``iss`` of every token the Bot Connector sends a bot."""
BOT_OPENID_METADATA_PATH = "/v1/.well-known/openidconfiguration"
BOT_KEYS_PATH = "/v1/.well-known/keys"
DEFAULT_ENDORSEMENTS = ("msteams",)
"""The channel ids a new key is endorsed for."""
DEFAULT_ACTIVITY_TOKEN_LIFETIME = 3600.0


@dataclass
class _SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    endorsements: tuple[str, ...]
    published: bool

    def jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64url(_int_bytes(numbers.n)),
            "e": b64url(_int_bytes(numbers.e)),
            "endorsements": list(self.endorsements),
        }


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _new_key(endorsements: Iterable[str], *, published: bool) -> _SigningKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    modulus = _int_bytes(private_key.public_key().public_numbers().n)
    # Microsoft's kids are base64url SHA-1 certificate thumbprints; one of the modulus looks alike.
    kid = b64url(hashlib.sha1(modulus, usedforsecurity=False).digest())
    return _SigningKey(kid, private_key, tuple(endorsements), published)


class BotFrameworkSigning(FakeVendor):
    """The keys ``login.botframework.com`` publishes, and the tokens the Bot Connector signs.

    A part of :class:`~sandbox.microsoft.FakeMicrosoft` (through the identity
    platform). See the module docstring.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._bot_keys: dict[str, _SigningKey] = {}
        self._current_bot_kid: str | None = None

    # -- keys ---------------------------------------------------------------------------

    def _current_bot_key(self) -> _SigningKey:
        if self._current_bot_kid is None:
            key = _new_key(DEFAULT_ENDORSEMENTS, published=True)
            self._bot_keys[key.kid] = key
            self._current_bot_kid = key.kid
        return self._bot_keys[self._current_bot_kid]

    @property
    def current_bot_signing_key(self) -> str:
        """The kid of the key that signs unless told otherwise."""
        with self._lock:
            return self._current_bot_key().kid

    @property
    def bot_signing_key_ids(self) -> list[str]:
        """The kids of the published keys, oldest first."""
        with self._lock:
            self._current_bot_key()
            return [k.kid for k in self._bot_keys.values() if k.published]

    def add_bot_signing_key(
        self, *, publish: bool = True, endorsements: Iterable[str] = DEFAULT_ENDORSEMENTS
    ) -> str:
        """A new key next to the current one; its kid. ``publish=False``: never in the JWKS."""
        with self._lock:
            self._current_bot_key()
            key = _new_key(endorsements, published=publish)
            self._bot_keys[key.kid] = key
            return key.kid

    def rotate_bot_signing_key(
        self, *, endorsements: Iterable[str] = DEFAULT_ENDORSEMENTS, retire_previous: bool = False
    ) -> str:
        """Publish a new key and sign with it from now on; its kid.

        ``retire_previous``: the keys published so far leave the JWKS (tokens
        they signed stop verifying once a verifier refetches).
        """
        with self._lock:
            self._current_bot_key()
            if retire_previous:
                for key in self._bot_keys.values():
                    key.published = False
            key = _new_key(endorsements, published=True)
            self._bot_keys[key.kid] = key
            self._current_bot_kid = key.kid
            return key.kid

    def publish_bot_signing_key(self, kid: str) -> None:
        """Put a held key into the JWKS."""
        with self._lock:
            self._bot_key(kid).published = True

    def retire_bot_signing_key(self, kid: str) -> None:
        """Take a key out of the JWKS (the fake can still sign with it)."""
        with self._lock:
            self._bot_key(kid).published = False

    def _bot_key(self, kid: str) -> _SigningKey:
        self._current_bot_key()
        try:
            return self._bot_keys[kid]
        except KeyError:
            raise KeyError(f"no bot signing key {kid!r}") from None

    # -- tokens -------------------------------------------------------------------------

    def sign_bot_activity(
        self,
        activity: Mapping[str, Any],
        bot_app_id: str,
        *,
        lifetime: float = DEFAULT_ACTIVITY_TOKEN_LIFETIME,
        issued_at: float | None = None,
        service_url: str | None = None,
        key: str | None = None,
        kid: str | None = None,
        issuer: str = BOT_FRAMEWORK_ISSUER,
        algorithm: str = "RS256",
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """The JWT the Bot Connector would send with ``activity`` to the bot ``bot_app_id``.

        ``issued_at``: epoch seconds of ``nbf`` (default: now on the fake's
        clock); ``exp`` is ``lifetime`` later. ``service_url``: the
        ``serviceurl`` claim (default: the activity's ``serviceUrl``).
        ``key``: the kid of the signing key (default: the current one);
        ``kid``: the kid the header names (default: the signing key's).
        ``algorithm="none"``: an unsigned token. ``claims``: claims to add or
        replace; a value of None removes the claim.
        """
        with self._lock:
            signer = self._bot_key(key) if key is not None else self._current_bot_key()
            start = self.epoch() if issued_at is None else issued_at
        payload: dict[str, Any] = {
            "serviceurl": service_url if service_url is not None else activity.get("serviceUrl"),
            "nbf": int(start),
            "exp": int(start + lifetime),
            "iss": issuer,
            "aud": bot_app_id,
        }
        for name, value in (claims or {}).items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        header_kid = kid if kid is not None else signer.kid
        if algorithm == "none":
            header = {"alg": "none", "typ": "JWT", "kid": header_kid}
            return ".".join(
                (b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()), "")
            )
        return jwt.encode(
            payload,
            signer.private_key,
            algorithm=algorithm,
            headers={"kid": header_kid, "x5t": header_kid},
        )

    def bot_authorization(
        self, activity: Mapping[str, Any], bot_app_id: str, **options: Any
    ) -> str:
        """``Bearer <token>``: :meth:`sign_bot_activity` as an ``Authorization`` header value."""
        return f"Bearer {self.sign_bot_activity(activity, bot_app_id, **options)}"

    @staticmethod
    def bot_openid_metadata_url(base_url: str) -> str:
        """The OpenID metadata URL of this fake served at ``base_url``."""
        return base_url.rstrip("/") + BOT_OPENID_METADATA_PATH

    # -- the endpoints ------------------------------------------------------------------

    @route("GET", BOT_OPENID_METADATA_PATH)
    def bot_openid_metadata(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v1/.well-known/openidconfiguration``: where the keys are (module docstring)."""
        url = req.raw.url
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        return json_response(
            200,
            {
                "issuer": BOT_FRAMEWORK_ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": origin + BOT_KEYS_PATH,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            },
        )

    @route("GET", BOT_KEYS_PATH)
    def bot_signing_keys(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v1/.well-known/keys``: the published keys as a JWKS with endorsements."""
        self._current_bot_key()
        keys = [k.jwk() for k in self._bot_keys.values() if k.published]
        return json_response(200, {"keys": keys})
