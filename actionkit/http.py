"""The vendor client base every integration's client builds on.

One status-to-error ladder for all vendors, Retry-After honoured, and one gate
(throttle token + "dispatched" mark) taken before every outgoing request. A
client takes ``transport=`` and a base URL and reads no global settings, so
tests and the sandbox can put a fake vendor behind it.

After a *mutating* request, only an answer that proves the vendor did nothing
allows a plain retry: 429, and the statuses a vendor documents as "not
processed" (``VendorClient.not_processed_statuses``). Any other answer that
is not a definite refusal (5xx, 408, 425), like a connection lost after
sending, raises ``TransientFailure`` with ``outcome_known=False``: the
executor does not repeat such a step blindly. Other 4xx are definite
failures (the vendor refused; nothing happened). Read-only requests retry
5xx/408/425 as before.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx

from actionkit.context import RequestGate
from actionkit.errors import (
    ActionFailure,
    Conflict,
    IntegrationMisconfigured,
    NotFound,
    PermissionDenied,
    RateLimited,
    Throttled,
    TransientFailure,
    VendorDetail,
    VendorError,
)
from actionkit.outbound import GuardedTransport, OutboundPolicy, OutboundURLRefused, redact_url

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_VENDOR_MESSAGE = 500
# Answers that prove a request was not carried out, for every vendor: a 429
# is the rate limiter refusing the request before it is acted on.
NOT_PROCESSED_STATUSES: frozenset[int] = frozenset({429})
# Retryable answers that say nothing about whether the request was carried
# out (besides every 5xx): Request Timeout and Too Early.
_AMBIGUOUS_4XX = frozenset({408, 425})
_RETRYABLE_5XX = frozenset({500, 502, 503, 504})


def may_have_been_processed(status: int, not_processed: frozenset[int]) -> bool:
    """True when an error status leaves open whether the vendor carried the request out.

    Every 5xx, 408 and 425 (and 429 if a client drops it from ``not_processed``),
    unless ``not_processed`` names it. Other 4xx are refusals.
    """
    if status in not_processed:
        return False
    return status >= 500 or status in _AMBIGUOUS_4XX or status == 429


def retry_after_seconds(response: httpx.Response, now: float | None = None) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or an HTTP date), else None."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        # "inf", "nan" or 1e400 are no delay a step can wait for (and not JSON).
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        # The asctime form carries no zone; HTTP dates are always GMT (RFC 9110 5.6.7).
        when = when.replace(tzinfo=datetime.UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _first_string(data: Any, *paths: tuple[str | int, ...]) -> str | None:
    for path in paths:
        node: Any = data
        for step in path:
            found = (isinstance(node, list) and isinstance(step, int) and len(node) > step) or (
                isinstance(node, dict) and isinstance(step, str) and step in node
            )
            if not found:
                node = None
                break
            node = node[step]
        if isinstance(node, str) and node.strip():
            return node.strip()
    return None


def vendor_message(response: httpx.Response) -> str:
    """The vendor's own error message, from the common JSON shapes or the text body."""
    text = response.text
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    message = None
    if isinstance(data, str) and data.strip():
        message = data.strip()  # DRF-style bare JSON strings
    elif data is not None:
        message = _first_string(
            data,
            ("message",),
            ("error_description",),
            ("error", "message"),
            ("detail",),
            ("errors", 0, "message"),
            ("errors", 0, "detail"),
            ("errorMessage",),
            ("resultCode",),
            ("error",),
            ("non_field_errors", 0),
        )
    if message is None:
        message = text.strip() or response.reason_phrase or f"HTTP {response.status_code}"
    if len(message) > MAX_VENDOR_MESSAGE:
        message = message[:MAX_VENDOR_MESSAGE] + "..."
    return message


def error_for_response(
    response: httpx.Response,
    vendor: str,
    *,
    mutating: bool = False,
    not_processed: frozenset[int] = NOT_PROCESSED_STATUSES,
    now: float | None = None,
    rate_window: float | None = None,
) -> ActionFailure:
    """Map a vendor error response onto the error tree (status + vendor message).

    ``mutating``: the request may have changed something at the vendor. Then
    an answer that does not prove "not processed" (``not_processed``, 429 by
    default) and is not a definite 4xx refusal becomes a ``TransientFailure``
    with ``outcome_known=False``. ``now`` (epoch seconds; default the system
    clock) is what a ``Retry-After`` HTTP date is measured from. ``rate_window``
    (``VendorClient.rate_window``): a 429 is ``Throttled`` for the header's
    delay, or this many seconds when it names none.
    """
    status = response.status_code
    retry_after = retry_after_seconds(response, now=now)
    message = vendor_message(response)
    detail = VendorDetail(status=status, message=message)
    text = f"{vendor} returned {status}: {message}"
    if mutating and may_have_been_processed(status, not_processed):
        return TransientFailure(
            f"{text} (the request may have been carried out)",
            vendor=detail,
            retry_after=retry_after,
            outcome_known=False,
        )
    if status == 401:
        return IntegrationMisconfigured(
            f"{vendor} rejected the stored credentials ({status}: {message}); "
            "reconnect the integration with valid credentials",
            vendor=detail,
        )
    if status == 403:
        return PermissionDenied(text, vendor=detail)
    if status == 404:
        return NotFound(text, vendor=detail)
    if status == 409:
        return Conflict(text, vendor=detail)
    if status == 429 and rate_window is not None:
        wait = rate_window if retry_after is None else retry_after
        return Throttled(text, vendor=detail, retry_after=wait)
    if status == 429:
        return RateLimited(text, vendor=detail, retry_after=retry_after)
    declared_busy = status >= 500 and status in not_processed  # a documented "try later"
    if status in _AMBIGUOUS_4XX or status in _RETRYABLE_5XX or declared_busy:
        return TransientFailure(text, vendor=detail, retry_after=retry_after)
    return VendorError(text, vendor=detail)


def instance_root(
    raw: str, *, vendor: str, example: str, strip_suffixes: tuple[str, ...] = ()
) -> str:
    """A vendor instance's root URL from what a tenant admin typed.

    Trimmed, ``https://`` when no scheme is given, no trailing ``/`` and none
    of ``strip_suffixes`` (API paths people paste, e.g. ``/api``). Anything
    that is not then an http(s) URL with a host is IntegrationMisconfigured
    naming the vendor and ``example`` (a password in the URL is not shown).
    """
    text = raw.strip()
    if "://" not in text:
        text = f"https://{text}"
    text = text.rstrip("/")
    for suffix in strip_suffixes:
        if text.lower().endswith(suffix):
            text = text[: -len(suffix)].rstrip("/")
            break
    try:
        url: httpx.URL | None = httpx.URL(text)
    except httpx.InvalidURL:
        url = None
    if (
        url is None
        or url.scheme not in ("http", "https")
        or not url.host
        or any(ch.isspace() for ch in text)
    ):
        shown = redact_url(text)
        raise IntegrationMisconfigured(
            f"the {vendor} instance URL {shown!r} is not an http(s) URL; reconnect with "
            f"--url {example}",
            details={"instance_url": shown},
        )
    return text


def refused(exc: OutboundURLRefused, vendor: str) -> IntegrationMisconfigured:
    """The step error for a URL the outbound policy refuses (nothing was sent)."""
    return IntegrationMisconfigured(
        f"{vendor}: refusing to send a request: {exc.message}; reconnect the integration "
        "with the vendor's https URL",
        details={"url": exc.url, "refused": exc.message},
    )


class VendorClient:
    """httpx client base: base URL, outbound policy, optional transport, gate, error ladder.

    The outbound policy (``actionkit.outbound``) is checked when the client is
    built and before every request, and guards every connection the default
    network transport opens; a refused URL is INTEGRATION_MISCONFIGURED and
    nothing is sent. ``transport=`` replaces the network (in-process fakes):
    the URL checks still apply. Redirects are not followed.

    Subclasses set ``vendor`` (the name in messages) and override
    ``auth_headers`` (and may refresh credentials in ``on_unauthorized``).
    A vendor that documents other answers as "the request was not processed"
    (safe to send again) extends ``not_processed_statuses``, citing its docs.
    ``clock=`` (epoch seconds, e.g. from ``ctx.now()``) is what a ``Retry-After``
    HTTP date is measured from; without it, the system clock.
    """

    vendor: ClassVar[str] = "vendor"
    # Whose rate limit requests count against (a provider name, e.g. "microsoft"
    # for every Microsoft API); None: the provider of the calling action's module.
    throttle_key: ClassVar[str | None] = None
    not_processed_statuses: ClassVar[frozenset[int]] = NOT_PROCESSED_STATUSES
    # A vendor that documents a fixed rate window and sends 429 without
    # Retry-After (Huntress: 60 a minute, sliding) sets the seconds that window
    # takes to let a request in again. Its 429s are then ``Throttled`` for that
    # long (or the header's delay): the step is re-scheduled like one our own
    # throttle held back, not counted as a failed attempt, and no worker sleeps.
    rate_window: ClassVar[float | None] = None

    def __init__(
        self,
        base_url: str,
        *,
        policy: OutboundPolicy,
        transport: httpx.BaseTransport | None = None,
        gate: RequestGate | None = None,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        try:
            policy.check_url(base_url)
        except OutboundURLRefused as exc:
            raise refused(exc, self.vendor) from None
        self.base_url = base_url.rstrip("/")
        self._policy = policy
        self._gate = gate
        # Epoch seconds a Retry-After HTTP date is measured from (the step's clock).
        self._clock = clock
        self._transport = transport if transport is not None else policy.guarded_transport()
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=self._transport,
            timeout=timeout,
            headers={"Accept": "application/json", **(headers or {})},
            follow_redirects=False,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={redact_url(self.base_url)!r})"

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a request (none by default)."""
        return {}

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        mutating: bool | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """One request through the gate; returns any response (errors not raised)."""
        method = method.upper()
        if mutating is None:
            mutating = method not in SAFE_METHODS
        merged = dict(headers or {})
        if authenticated:
            merged.update(self.auth_headers())
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        request = self._http.build_request(
            method, path, params=clean_params, json=json, data=data, headers=merged
        )
        # The URL without its query (no httpx re-parse: this runs on every request).
        shown = redact_url(str(request.url).split("?", 1)[0].split("#", 1)[0])
        try:
            self._policy.check_url(request.url)
        except OutboundURLRefused as exc:
            raise refused(exc, self.vendor) from None
        leaving = None
        if self._gate is not None:
            leaving = self._gate.before_request(
                method, shown, mutating=mutating, vendor=self.throttle_key
            )
        if leaving is not None:
            if isinstance(self._transport, GuardedTransport):
                # Counted when the bytes leave, not before a connect or handshake.
                self._transport.before_write = leaving
            else:
                leaving()
        try:
            return self._http.send(request)
        except OutboundURLRefused as exc:
            # The guarded transport refused the host's addresses before connecting.
            raise refused(exc, self.vendor) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Nothing reached the vendor: always safe to try again.
            raise TransientFailure(
                f"{self.vendor} is unreachable ({type(exc).__name__})",
                details={"url": shown},
            ) from None
        except httpx.TransportError as exc:
            # The request may have been received: a mutating one has an unknown outcome.
            raise TransientFailure(
                f"{self.vendor} did not answer ({type(exc).__name__})",
                details={"url": shown},
                outcome_known=not mutating,
            ) from None
        finally:
            if isinstance(self._transport, GuardedTransport):
                # Not written (refused, or no connection): nothing left, nothing counted.
                self._transport.before_write = None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        mutating: bool | None = None,
    ) -> httpx.Response:
        """A request whose error responses are raised as typed errors.

        A 401 gives the subclass one chance to refresh credentials
        (``on_unauthorized`` returning True) before the request is repeated,
        mutating or not: a 401 means the vendor did nothing. The repeat goes
        through the gate again (a throttle token; the step is already marked
        dispatched), as do the refresh's own requests.
        An error answer to a mutating request (by default any method but
        GET/HEAD/OPTIONS) that does not prove "not processed" has
        ``outcome_known=False``.
        """
        if mutating is None:
            mutating = method.upper() not in SAFE_METHODS
        response = self.send(
            method, path, params=params, json=json, data=data, headers=headers, mutating=mutating
        )
        if response.status_code == 401 and self.on_unauthorized(response):
            response = self.send(
                method,
                path,
                params=params,
                json=json,
                data=data,
                headers=headers,
                mutating=mutating,
            )
        if response.is_error:
            raise self.error_for(response, mutating=mutating)
        return response

    def error_for(self, response: httpx.Response, *, mutating: bool = False) -> ActionFailure:
        """The error an error response raises; vendors override to name their own codes.

        ``mutating``: the answer is to a request that may change something at
        the vendor (see ``error_for_response``).
        """
        return error_for_response(
            response,
            self.vendor,
            mutating=mutating,
            not_processed=self.not_processed_statuses,
            now=None if self._clock is None else self._clock(),
            rate_window=self.rate_window,
        )

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request`` and decode the JSON body (None for an empty body)."""
        response = self.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise VendorError(
                f"{self.vendor} answered {response.status_code} with a body that is not JSON",
                vendor=VendorDetail(response.status_code, response.text[:MAX_VENDOR_MESSAGE]),
            ) from None

    def on_unauthorized(self, response: httpx.Response) -> bool:
        """Refresh credentials after a 401; True to repeat the request once."""
        return False
