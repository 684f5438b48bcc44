"""Connection checks: one read-only vendor call proving a tenant's credentials work.

A vendor's package declares its check (``catalog.vendors.Vendor.check``), a
:data:`ConnectionCheck`: given a :class:`CheckContext` (the candidate
connection and the tenant's secrets) it makes one read-only call through the
vendor's own client, so the outbound policy, the token handling and the error
ladder are the actions' own, and returns what the call proved ("token
accepted, 3 organizations visible"). A failure is a :class:`CheckFailed`
naming its kind, what failed and how to fix it, in one line.

``patchbay connect`` runs the check before anything is stored (a rotated
token is stored with the connection, in one transaction);
``patchbay connections test`` runs it again whenever asked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import httpx

from actionkit.context import TenantContext
from actionkit.errors import ActionFailure, PermissionDenied, TransientFailure

FailureKind = Literal[
    "unreachable", "tls", "http_error", "rejected", "forbidden", "missing_secret", "refused"
]
"""Why a check failed: the host does not answer, TLS failed, an HTTP error, the
credentials were refused (401, ``invalid_grant``), a scope is missing (403), a
secret is not set, or the outbound policy refused the URL (nothing was sent)."""


class CheckContext(TenantContext, Protocol):
    """A tenant's vendor connection as a check sees it, before or after it is stored."""

    @property
    def instance_url(self) -> str | None:
        """The connection's vendor URL (None: the vendor's default)."""
        ...

    @property
    def allow_custom_host(self) -> bool:
        """Whether the connection allows a host outside the vendor's known hosts."""
        ...

    @property
    def settings(self) -> Mapping[str, Any]:
        """The connection's settings: those given to ``patchbay connect`` over the stored ones."""
        ...


ConnectionCheck = Callable[[CheckContext], str]
"""A vendor's check: one read-only call; returns what it proved, raises :class:`CheckFailed`."""


class CheckFailed(Exception):
    """A connection check failed: ``kind``, and one line saying what failed and what to do.

    ``secret``: the secret to replace when the vendor refused it. The message
    never quotes a secret value.
    """

    def __init__(self, kind: FailureKind, message: str, *, secret: str | None = None) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message
        self.secret = secret


def _transport_reason(error: BaseException) -> tuple[bool, str]:
    """(whether TLS failed, the transport's own reason) behind a client's TransientFailure."""
    cause = error.__cause__ or error.__context__
    if not isinstance(cause, httpx.TransportError):
        return False, str(error)
    text = " ".join(str(cause).split()) or type(cause).__name__
    tls = any(word in text for word in ("SSL", "TLS", "CERTIFICATE", "certificate"))
    return tls, text


def check_failure(error: ActionFailure, *, vendor: str, url: str) -> CheckFailed:
    """How a vendor client's error reads as a failed check (a vendor's own cases go first).

    ``vendor``: its label; ``url``: the instance URL as shown to the user.
    """
    status = error.vendor.status if error.vendor is not None else None
    said = error.vendor.message if error.vendor is not None else None
    details = error.details or {}
    if isinstance(error, TransientFailure) and status is None:
        tls, reason = _transport_reason(error)
        if tls:
            return CheckFailed(
                "tls",
                f"TLS with {vendor} at {url} failed ({reason}); check --url: the host's "
                "certificate must be valid for that name",
            )
        return CheckFailed(
            "unreachable",
            f"{vendor} at {url} is unreachable ({reason}); check --url and that the host is up",
        )
    if "missing" in details:
        return CheckFailed("missing_secret", error.message, secret=str(details["missing"]))
    if status is None and "refused" in details:
        reason = str(details["refused"])
        if "does not resolve" in reason:
            return CheckFailed(
                "unreachable", f"{vendor} is unreachable ({reason}); check --url's host name"
            )
        return CheckFailed("refused", f"refusing to send credentials to {vendor}: {reason}")
    if status == 401:
        return CheckFailed(
            "rejected",
            f"{vendor} rejected the credentials (401: {said}); store valid ones with --secret",
        )
    if status == 403 or isinstance(error, PermissionDenied):
        return CheckFailed(
            "forbidden",
            f"{vendor} refused the request (403: {said}); grant the API client the scope "
            "it needs and connect again",
        )
    if status is not None:
        return CheckFailed(
            "http_error", f"{vendor} at {url} answered HTTP {status} ({said}); check --url"
        )
    return CheckFailed("http_error", error.message)
