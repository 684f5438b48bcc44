"""Is this request really from the Bot Connector? Its JWT, against Microsoft's published keys.

The rules are the Bot Service article "Authentication with the Bot Connector
API", *Authenticate requests from the Bot Connector service to your bot*:

1. the token comes in ``Authorization: Bearer <JWT>``;
2. it is a well-formed JWT;
3. ``iss`` is ``https://api.botframework.com``;
4. ``aud`` is the bot's Microsoft App ID (checked by the caller, which knows
   the tenant's bot: :meth:`ConnectorToken.is_for`);
5. it is within ``nbf``/``exp``, with 5 minutes of clock skew;
6. its signature verifies with a key of the OpenID keys document
   (``jwks_uri`` of the metadata document) under an algorithm the metadata
   lists (``id_token_signing_alg_values_supported``; only RSA ones are
   taken, so ``none`` and HMAC never are);
7. its ``serviceurl`` claim equals the activity's ``serviceUrl``;

and the key's ``endorsements`` include the activity's ``channelId`` when it
has one (403 otherwise, as the article says). There is no way to switch any
of this off: the sandbox's fake identity platform publishes keys of its own
(``sandbox.microsoft.botframework``) and the endpoint verifies its tokens
the same way.

The metadata URL is ``PATCHBAY_BOT_OPENID_METADATA_URL`` (Microsoft's by
default). It and the ``jwks_uri`` it names must pass the outbound URL policy
for ``login.botframework.com`` (https, that host only; a loopback fake in
sandbox mode only); another URL is refused when the verifier is built.
Both documents are fetched through the policy's guarded transport.

Keys are cached for :data:`KEYS_TTL` (the article: refresh at least once a
day). A token naming a kid the cache lacks makes one refetch (at most one per
:data:`REFETCH_COOLDOWN` seconds, so forged kids cannot make the endpoint
hammer Microsoft); if the kid is still unknown, the token is refused. When a
refresh fails, the keys already held stay in use; with none held, requests
are answered 503 (try later) rather than refused as forged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from actionkit.outbound import HostRules, OutboundPolicy, OutboundURLRefused, redact_url
from executor.settings import Settings

logger = logging.getLogger("patchbay.api.inbound")

ISSUER = "https://api.botframework.com"
DEFAULT_METADATA_URL: str = Settings.model_fields["bot_openid_metadata_url"].default
METADATA_HOSTS = HostRules(known=("login.botframework.com",), custom_hosts=False)
CLOCK_SKEW = 300
KEYS_TTL = 6 * 3600.0
REFETCH_COOLDOWN = 10.0
FETCH_TIMEOUT = 10.0
MAX_DOCUMENT_BYTES = 512 * 1024
# RSA algorithms only: a published key is an RSA key, so HMAC (key confusion) and
# "none" can never verify, whatever a token's header asks for.
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})
SERVICE_URL_CLAIMS = ("serviceurl", "serviceUrl")


class TokenRefused(Exception):
    """The request's token does not prove it came from the Bot Connector.

    ``reason``: ``missing``, ``malformed``, ``unsigned``, ``bad_algorithm``,
    ``unknown_key``, ``bad_signature``, ``expired``, ``not_yet_valid``,
    ``wrong_issuer``, ``wrong_audience``, ``service_url_mismatch``,
    ``missing_claim`` (401), ``not_endorsed`` (403).
    """

    def __init__(self, reason: str, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


class KeysUnavailable(Exception):
    """The signing keys could not be fetched and none are held: nothing can be verified now."""


class MetadataURLRefused(ValueError):
    """``PATCHBAY_BOT_OPENID_METADATA_URL`` names a URL the outbound policy refuses."""


@dataclass(frozen=True)
class SigningKey:
    """One published key: its kid, its public key and the channels it is endorsed for."""

    kid: str
    public_key: Any
    """The key object PyJWT verifies with (an RSA public key)."""
    endorsements: frozenset[str]


@dataclass(frozen=True)
class _KeySet:
    keys: Mapping[str, SigningKey]
    algorithms: frozenset[str]
    fetched_at: float


@dataclass(frozen=True)
class ConnectorToken:
    """A token that passed every check but the audience (the caller's: :meth:`is_for`)."""

    claims: Mapping[str, Any]
    kid: str

    @property
    def audiences(self) -> tuple[str, ...]:
        aud = self.claims.get("aud")
        if isinstance(aud, str):
            return (aud,)
        if isinstance(aud, list):
            return tuple(a for a in aud if isinstance(a, str))
        return ()

    def is_for(self, bot_app_id: str) -> bool:
        """Whether ``aud`` names the bot (App IDs are GUIDs: compared case-insensitively)."""
        wanted = bot_app_id.strip().lower()
        return bool(wanted) and any(a.strip().lower() == wanted for a in self.audiences)


def metadata_policy(*, sandbox: bool) -> OutboundPolicy:
    """Where the metadata and keys may be fetched from (a loopback fake in sandbox mode only)."""
    return OutboundPolicy(METADATA_HOSTS, sandbox=sandbox)


class ConnectorTokenVerifier:
    """Verifies the Bot Connector's tokens against the keys ``metadata_url`` leads to.

    ``transport``: an httpx transport to fetch with (tests; default: the
    outbound policy's guarded transport). ``clock``: monotonic seconds for
    the cache. Thread-safe; one per app.
    """

    def __init__(
        self,
        metadata_url: str,
        *,
        sandbox: bool,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        keys_ttl: float = KEYS_TTL,
        refetch_cooldown: float = REFETCH_COOLDOWN,
        timeout: float = FETCH_TIMEOUT,
    ) -> None:
        self._policy = metadata_policy(sandbox=sandbox)
        try:
            self.metadata_url = str(self._policy.check_url(metadata_url))
        except OutboundURLRefused as exc:
            hint = "" if sandbox else " (a loopback fake only in sandbox mode, PATCHBAY_SANDBOX=1)"
            raise MetadataURLRefused(
                f"PATCHBAY_BOT_OPENID_METADATA_URL refused: {exc.message}. It must be the Bot "
                f"Framework's OpenID metadata, {DEFAULT_METADATA_URL}{hint}"
            ) from None
        self._transport = transport
        self._clock = clock
        self._keys_ttl = keys_ttl
        self._refetch_cooldown = refetch_cooldown
        self._timeout = timeout
        self._lock = threading.Lock()
        self._keys: _KeySet | None = None
        self._last_attempt: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> ConnectorTokenVerifier:
        """The verifier for ``settings.bot_openid_metadata_url`` (sandbox rules from settings)."""
        return cls(settings.bot_openid_metadata_url, sandbox=settings.sandbox, **options)

    # -- verification ---------------------------------------------------------------------

    def verify(
        self, token: str, *, service_url: str | None, channel_id: str | None
    ) -> ConnectorToken:
        """The token's claims if it passes rules 2, 3 and 5 to 7 and the endorsement check.

        ``service_url`` None (a body with none to compare): every rule but the
        serviceurl claim's value, so a caller learns whether the token is good
        before it is told anything about its body.

        Raises :class:`TokenRefused` or, with no keys to verify against,
        :class:`KeysUnavailable`.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRefused("malformed", "the bearer token is not a JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise TokenRefused("unsigned", "the token is not signed")
        if alg not in RSA_ALGORITHMS:
            raise TokenRefused(
                "bad_algorithm",
                f"the token's algorithm {alg[:16]!r} is not one the Bot Framework signs with",
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRefused("malformed", "the token names no signing key (kid)")
        signing_key, algorithms = self._key(kid)
        if alg not in algorithms:
            raise TokenRefused(
                "bad_algorithm",
                f"the token's algorithm {alg[:16]!r} is not one the Bot Framework signs with",
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.public_key,
                algorithms=[alg],
                issuer=ISSUER,
                leeway=CLOCK_SKEW,
                options={"require": ["exp", "iss", "aud"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("expired", "the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRefused("not_yet_valid", "the token is not valid yet") from None
        except jwt.InvalidIssuerError:
            raise TokenRefused("wrong_issuer", f"the token's issuer is not {ISSUER}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused("missing_claim", f"the token has no {exc.claim} claim") from None
        except jwt.InvalidSignatureError:
            raise TokenRefused(
                "bad_signature", "the token's signature does not verify with its key"
            ) from None
        except jwt.PyJWTError:
            raise TokenRefused("malformed", "the token is not a valid JWT") from None
        claimed = next(
            (claims[c] for c in SERVICE_URL_CLAIMS if isinstance(claims.get(c), str)), None
        )
        if claimed is None:
            raise TokenRefused("missing_claim", "the token has no serviceurl claim")
        if service_url is not None and claimed != service_url:
            raise TokenRefused(
                "service_url_mismatch",
                "the token's serviceurl claim is not the activity's serviceUrl",
            )
        if channel_id is not None and channel_id not in signing_key.endorsements:
            raise TokenRefused(
                "not_endorsed",
                f"the token's key is not endorsed for channel {channel_id[:32]!r}",
                status=403,
            )
        return ConnectorToken(claims=claims, kid=kid)

    # -- keys -----------------------------------------------------------------------------

    def _key(self, kid: str) -> tuple[SigningKey, frozenset[str]]:
        with self._lock:
            now = self._clock()
            keys = self._keys
            wanting = (
                keys is None or now - keys.fetched_at >= self._keys_ttl or kid not in keys.keys
            )
            if wanting and self._may_refetch(now):
                keys = self._refresh(now)
            if keys is None:
                raise KeysUnavailable("the Bot Framework's signing keys cannot be fetched now")
            found = keys.keys.get(kid)
            if found is None:
                raise TokenRefused(
                    "unknown_key", "the token's signing key is not one the Bot Framework publishes"
                )
            return found, keys.algorithms

    def _may_refetch(self, now: float) -> bool:
        return self._last_attempt is None or now - self._last_attempt >= self._refetch_cooldown

    def _refresh(self, now: float) -> _KeySet | None:
        """Fetch the keys; on failure keep those held (None when there are none)."""
        self._last_attempt = now
        try:
            self._keys = self._fetch(now)
        except (_FetchFailed, OutboundURLRefused, httpx.HTTPError) as exc:
            why = exc.message if isinstance(exc, _FetchFailed | OutboundURLRefused) else repr(exc)
            held = "kept the keys held" if self._keys is not None else "none held"
            logger.warning("Bot Framework signing keys not fetched (%s): %s", held, why)
        return self._keys

    def _fetch(self, now: float) -> _KeySet:
        metadata = self._get_json(self.metadata_url)
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise _FetchFailed("the OpenID metadata names no jwks_uri")
        listed = metadata.get("id_token_signing_alg_values_supported", ["RS256"])
        named = listed if isinstance(listed, list) else []
        algorithms = frozenset(a for a in named if isinstance(a, str)) & RSA_ALGORITHMS
        if not algorithms:
            raise _FetchFailed("the OpenID metadata lists no RSA signing algorithm")
        document = self._get_json(jwks_uri)
        raw_keys = document.get("keys")
        if not isinstance(raw_keys, list):
            raise _FetchFailed("the keys document has no keys list")
        keys: dict[str, SigningKey] = {}
        for raw in raw_keys:
            key = _signing_key(raw)
            if key is not None:
                keys[key.kid] = key
        if not keys:
            raise _FetchFailed("the keys document has no usable RSA signing key")
        return _KeySet(keys=keys, algorithms=algorithms, fetched_at=now)

    def _get_json(self, url: str) -> dict[str, Any]:
        parsed = self._policy.check_url(url)
        transport = self._transport or self._policy.guarded_transport()
        client = httpx.Client(transport=transport, timeout=self._timeout, follow_redirects=False)
        try:
            with client.stream("GET", parsed, headers={"Accept": "application/json"}) as answer:
                if answer.status_code != 200:
                    raise _FetchFailed(f"{redact_url(url)} answered {answer.status_code}")
                content = bytearray()
                for chunk in answer.iter_bytes():
                    content += chunk
                    if len(content) > MAX_DOCUMENT_BYTES:
                        raise _FetchFailed(f"{redact_url(url)} answered over {MAX_DOCUMENT_BYTES}")
        finally:
            if self._transport is None:
                client.close()
        try:
            data = json.loads(bytes(content))
        except (ValueError, UnicodeDecodeError):
            raise _FetchFailed(f"{redact_url(url)} did not answer JSON") from None
        if not isinstance(data, dict):
            raise _FetchFailed(f"{redact_url(url)} did not answer a JSON object")
        return data


class _FetchFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _signing_key(raw: Any) -> SigningKey | None:
    """One JWK as a signing key; None for anything but an RSA signing key with a kid."""
    if not isinstance(raw, dict) or raw.get("kty") != "RSA":
        return None
    kid, use = raw.get("kid"), raw.get("use", "sig")
    if not isinstance(kid, str) or not kid or use != "sig":
        return None
    endorsements = raw.get("endorsements")
    try:
        key = jwt.PyJWK({k: v for k, v in raw.items() if k != "endorsements"}, algorithm="RS256")
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    named = endorsements if isinstance(endorsements, list) else []
    return SigningKey(kid, key.key, frozenset(e for e in named if isinstance(e, str)))
