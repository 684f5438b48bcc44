"""Error payloads: one JSON shape for every failure, redacted and size-capped.

``{category, code, message, retryable, retry_after?, vendor?: {status, message},
details?, action_id, step_path, at}``

Redaction is by value (every secret loaded during the invocation is scrubbed
wherever it appears) and by key name (values under keys that look like
credentials). The stored payload is capped at 32 KiB.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from actionkit.errors import ActionFailure, InternalError, ValidationFailed

REDACTED = "[REDACTED]"
MAX_PAYLOAD_BYTES = 32 * 1024
# Values shorter than this are not scrubbed by value: a two-letter "secret"
# would shred every message, and real credentials are far longer.
MIN_REDACT_LENGTH = 4
SENSITIVE_KEY = re.compile(
    r"(secret|token|password|passwd|api[_-]?key|authorization|credential|cookie|private[_-]?key)",
    re.IGNORECASE,
)


class Redactor:
    """Scrubs known secret values and credential-looking keys from data."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        for value in values:
            self.add(value)

    def __repr__(self) -> str:
        return f"Redactor({len(self._values)} values)"

    def add(self, value: str) -> None:
        """Remember a secret value loaded for this invocation.

        A secret holding JSON (e.g. an OAuth token set) is also remembered by
        each of its string values, so a token that appears on its own is caught.
        """
        if len(value) >= MIN_REDACT_LENGTH:
            self._values.add(value)
        if value[:1] in "{[":
            try:
                parsed = json.loads(value)
            except ValueError:
                return
            for leaf in _string_leaves(parsed):
                if len(leaf) >= MIN_REDACT_LENGTH:
                    self._values.add(leaf)

    def text(self, text: str) -> str:
        """``text`` with every known secret value replaced."""
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def data(self, obj: Any) -> Any:
        """A copy of ``obj`` with secrets scrubbed by value and by key name.

        A credential-looking key hides whatever is under it except a flag or
        a null, which cannot hold a credential (e.g. ``requires_authorization:
        true``); a number can (a PIN) and is hidden.
        """
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {str(k): REDACTED if _hides(k, v) else self.data(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.data(v) for v in obj]
        return obj


def _hides(key: Any, value: Any) -> bool:
    """Whether a value under ``key`` is hidden by its key name alone."""
    return bool(SENSITIVE_KEY.search(str(key))) and not isinstance(value, bool | None)


def _string_leaves(data: Any) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [leaf for v in data.values() for leaf in _string_leaves(v)]
    if isinstance(data, list):
        return [leaf for v in data for leaf in _string_leaves(v)]
    return []


# How many problems a validation message names before "and N more" (details list all).
MAX_MESSAGE_PROBLEMS = 10
# Pydantic prefixes a validator's own message with this; the message says it better alone.
_VALUE_ERROR = "Value error, "


def validation_failure(exc: ValidationError, *, prefix: str = "input") -> ValidationFailed:
    """A pydantic error as VALIDATION_ERROR naming every bad field.

    The message is one ``<prefix>.<field>: <problem>`` clause per problem,
    joined by ``; `` (the first ``MAX_MESSAGE_PROBLEMS``, then ``and N more``),
    so a user fixes everything in one go; ``details.errors`` lists them all
    and ``field`` (``details.field``) names the first.
    """
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or prefix
        problem = err["msg"].removeprefix(_VALUE_ERROR)
        errors.append({"field": field, "message": problem, "type": err["type"]})
    if not errors:
        errors.append({"field": prefix, "message": "invalid", "type": "invalid"})
    clauses = [f"{_where(prefix, e['field'])}: {e['message']}" for e in errors]
    message = "; ".join(clauses[:MAX_MESSAGE_PROBLEMS])
    if len(clauses) > MAX_MESSAGE_PROBLEMS:
        message += f"; and {len(clauses) - MAX_MESSAGE_PROBLEMS} more"
    return ValidationFailed(message, field=errors[0]["field"], details={"errors": errors})


def _where(prefix: str, field: str) -> str:
    return prefix if field == prefix else f"{prefix}.{field}"


def as_action_failure(exc: BaseException) -> ActionFailure:
    """Any exception as an ActionFailure; unexpected ones become INTERNAL_ERROR."""
    if isinstance(exc, ActionFailure):
        return exc
    if isinstance(exc, ValidationError):
        return validation_failure(exc, prefix="output")
    return InternalError(
        f"{type(exc).__name__}: {exc}", details={"exception_type": type(exc).__name__}
    )


def failure_payload(
    error: ActionFailure,
    *,
    action_id: str,
    step_path: str | None,
    at: datetime,
    redactor: Redactor,
) -> dict[str, Any]:
    """The error as the payload every consumer sees: redacted, at most 32 KiB."""
    payload: dict[str, Any] = {
        "category": error.category,
        "code": error.code,
        "message": error.message,
        "retryable": error.retryable,
    }
    if error.retry_after is not None:
        payload["retry_after"] = round(error.retry_after, 3)
    if error.vendor is not None:
        payload["vendor"] = {"status": error.vendor.status, "message": error.vendor.message}
    if error.details:
        payload["details"] = error.details
    payload.update({"action_id": action_id, "step_path": step_path, "at": at.isoformat()})
    redacted: dict[str, Any] = redactor.data(payload)
    return cap_payload(redacted)


def _size(payload: dict[str, Any]) -> int:
    return len(json.dumps(payload, default=str).encode())


def _truncate(text: str, limit: int) -> str:
    # Cut on a code point boundary; never split a surrogate pair or UTF-8 sequence.
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode(errors="ignore") + "...[truncated]"


def cap_payload(payload: dict[str, Any], limit: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """Shrink an oversized payload: drop details first, then truncate messages."""
    size = _size(payload)
    if size <= limit:
        return payload
    capped = dict(payload)
    if "details" in capped:
        capped["details"] = {"truncated": True, "size": size, "max": limit}
    if _size(capped) > limit and isinstance(capped.get("vendor"), dict):
        vendor = dict(capped["vendor"])
        vendor["message"] = _truncate(str(vendor["message"]), limit // 4)
        capped["vendor"] = vendor
    if _size(capped) > limit:
        capped["message"] = _truncate(str(capped["message"]), limit // 2)
    return capped
