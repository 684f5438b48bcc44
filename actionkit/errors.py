"""The errors an action can end with, and the one payload they all become.

    ActionFailure                      base; carries code, category, retryable
    ├── ValidationFailed               VALIDATION_ERROR (names the field)
    ├── ActionError                    category ActionError, not retryable
    │   ├── UnknownAction              UNKNOWN_ACTION
    │   ├── IntegrationInactive        INTEGRATION_INACTIVE
    │   ├── IntegrationMisconfigured   INTEGRATION_MISCONFIGURED
    │   ├── NotFound                   NOT_FOUND
    │   ├── Conflict                   CONFLICT
    │   ├── PermissionDenied           PERMISSION_DENIED
    │   ├── VendorError                VENDOR_ERROR (vendor status + message)
    │   ├── OutcomeUnknown             OUTCOME_UNKNOWN
    │   ├── IdempotencyConflict        IDEMPOTENCY_CONFLICT
    │   ├── StepTimeout                TIMEOUT
    │   └── InternalError              INTERNAL_ERROR
    └── TransientError                 category TransientError, retryable
        ├── RateLimited                RATE_LIMITED (retry_after from the vendor)
        ├── TransientFailure           TRANSIENT_FAILURE
        └── Throttled                  our own throttle had no token soon enough,
                                       or a vendor's documented rate window was
                                       full (``VendorClient.rate_window``);
                                       re-scheduled, never counted as an attempt

Whether an error is retryable, and after how long, is a property of the error
itself (``retryable``, ``retry_after``); the executor has one place that turns
an error into a retry or a recorded failure. Modules add their own named codes
by passing ``code=`` (e.g. ``USER_NOT_LINKED``).

Integrations raise these; the executor turns them into the stored payload
(``executor.payload``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

Category = Literal["ValidationError", "ActionError", "TransientError"]


@dataclass(frozen=True)
class VendorDetail:
    """What the vendor said: HTTP status and its own error message."""

    status: int
    message: str


class ActionFailure(Exception):
    """Base of every error an action can end with."""

    category: ClassVar[Category] = "ActionError"
    default_code: ClassVar[str] = "INTERNAL_ERROR"
    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        vendor: VendorDetail | None = None,
        details: dict[str, Any] | None = None,
        outcome_known: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after = retry_after
        self.vendor = vendor
        self.details = details
        # False when a mutating request may have reached the vendor without an
        # answer (a timeout after sending): repeating it could act twice.
        self.outcome_known = outcome_known

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class ValidationFailed(ActionFailure):
    """Input (or output) failed validation; ``field`` names what was wrong."""

    category = "ValidationError"
    default_code = "VALIDATION_ERROR"

    def __init__(
        self, message: str, *, field: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        merged = dict(details or {})
        if field is not None:
            merged.setdefault("field", field)
        super().__init__(message, details=merged or None)
        self.field = field


class ActionError(ActionFailure):
    """A definite failure; repeating the same call would fail the same way."""


class UnknownAction(ActionError):
    default_code = "UNKNOWN_ACTION"


class IntegrationInactive(ActionError):
    default_code = "INTEGRATION_INACTIVE"


class IntegrationMisconfigured(ActionError):
    default_code = "INTEGRATION_MISCONFIGURED"


class NotFound(ActionError):
    default_code = "NOT_FOUND"


class Conflict(ActionError):
    default_code = "CONFLICT"


class PermissionDenied(ActionError):
    default_code = "PERMISSION_DENIED"


class VendorError(ActionError):
    default_code = "VENDOR_ERROR"


class OutcomeUnknown(ActionError):
    default_code = "OUTCOME_UNKNOWN"


class IdempotencyConflict(ActionError):
    default_code = "IDEMPOTENCY_CONFLICT"


class StepTimeout(ActionError):
    default_code = "TIMEOUT"


class InternalError(ActionError):
    default_code = "INTERNAL_ERROR"


class TransientError(ActionFailure):
    """A failure that may pass: the same call later can succeed."""

    category = "TransientError"
    default_code = "TRANSIENT_FAILURE"
    default_retryable = True


class RateLimited(TransientError):
    default_code = "RATE_LIMITED"


class TransientFailure(TransientError):
    default_code = "TRANSIENT_FAILURE"


class Throttled(TransientError):
    """No throttle token within the short wait; ``retry_after`` says when to try again.

    Also a vendor's 429 when its client declares the vendor's rate window
    (``actionkit.http.VendorClient.rate_window``): the same wait, on the vendor's side.

    ``reserved_at`` (epoch seconds) is set when a later slot is held for this
    step: it runs then and uses that slot instead of asking again.
    """

    default_code = "RATE_LIMITED"
    reserved_at: float | None = None
