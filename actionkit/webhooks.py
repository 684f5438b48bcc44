"""Checking a vendor's signed webhook before anything in it is believed.

Vendors sign outbound webhooks with an HMAC of the raw body under a secret
shared with the receiver. :func:`verify_hmac_sha256` checks such a
signature in constant time; :func:`check_fresh` refuses an event whose
signed time is too old (a captured delivery sent again later) or too far in
the future. Replays inside the freshness window are the receiver's to
refuse, by event id (``store.inbound``).

Every refusal is a :class:`WebhookRejected` with a short ``reason`` (for a
front door to map to a status) and a message that never includes the
secret, the signature or the body.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Literal

Reason = Literal[
    "unsigned",
    "bad_signature",
    "stale",
    "replayed",
    "malformed",
    "unknown_event",
    "not_connected",
    "no_secret",
]

# A signed event older than this (or this far in the future) is refused.
DEFAULT_TOLERANCE = timedelta(minutes=5)


class WebhookRejected(Exception):
    """The webhook was refused; nothing in it was recorded."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message


def verify_hmac_sha256(
    secret: str, body: bytes, signature: str | None, *, prefix: str = "sha256="
) -> None:
    """Raise unless ``signature`` is ``<prefix><hex HMAC-SHA256(secret, body)>``."""
    if not signature or not signature.strip():
        raise WebhookRejected("unsigned", "the webhook carries no signature; refused")
    given = signature.strip()
    if not given.startswith(prefix):
        raise WebhookRejected(
            "bad_signature", f"the webhook signature is not of the form {prefix}<hex>; refused"
        )
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given[len(prefix) :].lower().encode(), expected.encode()):
        raise WebhookRejected(
            "bad_signature",
            "the webhook signature does not match its body under the tenant's webhook secret; "
            "refused",
        )


def check_fresh(
    occurred_at: datetime, now: datetime, *, tolerance: timedelta = DEFAULT_TOLERANCE
) -> None:
    """Raise if the signed event time is more than ``tolerance`` away from ``now``."""
    age = now - occurred_at
    if age > tolerance:
        raise WebhookRejected(
            "stale",
            f"the event occurred at {occurred_at.isoformat()}, more than "
            f"{int(tolerance.total_seconds())}s ago; refused as a possible replay",
        )
    if -age > tolerance:
        raise WebhookRejected(
            "stale",
            f"the event claims to occur at {occurred_at.isoformat()}, more than "
            f"{int(tolerance.total_seconds())}s in the future; refused",
        )
