"""The status-to-error ladder (``error_for_response``) and ``Retry-After`` parsing.

Every vendor client raises what this ladder answers, so each status class is
pinned here: the error type, its code, whether it is retryable, and whether
the outcome is known, for a read and for a mutating request, with and without
statuses a vendor declares "not processed".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from actionkit.errors import (
    ActionFailure,
    Conflict,
    IntegrationMisconfigured,
    NotFound,
    PermissionDenied,
    RateLimited,
    TransientFailure,
    VendorError,
)
from actionkit.http import (
    NOT_PROCESSED_STATUSES,
    error_for_response,
    may_have_been_processed,
    retry_after_seconds,
)

VENDOR = "Acme RMM"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()


def ladder(
    status: int,
    *,
    mutating: bool = False,
    not_processed: frozenset[int] = NOT_PROCESSED_STATUSES,
    retry_after: str | None = None,
) -> ActionFailure:
    """The ladder's error for a ``status`` answer whose body says ``nope``."""
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    response = httpx.Response(status, json={"message": "nope"}, headers=headers)
    return error_for_response(response, VENDOR, mutating=mutating, not_processed=not_processed)


def shape(error: ActionFailure) -> tuple[type[ActionFailure], str, str, bool, bool]:
    return (type(error), error.code, error.category, error.retryable, error.outcome_known)


# -- reads (and refusals of mutating requests) ----------------------------------------

REFUSALS = [
    (400, VendorError, "VENDOR_ERROR"),
    (401, IntegrationMisconfigured, "INTEGRATION_MISCONFIGURED"),
    (402, VendorError, "VENDOR_ERROR"),
    (403, PermissionDenied, "PERMISSION_DENIED"),
    (404, NotFound, "NOT_FOUND"),
    (405, VendorError, "VENDOR_ERROR"),
    (409, Conflict, "CONFLICT"),
    (410, VendorError, "VENDOR_ERROR"),
    (418, VendorError, "VENDOR_ERROR"),
    (422, VendorError, "VENDOR_ERROR"),
]


@pytest.mark.parametrize("mutating", [False, True], ids=["read", "mutating"])
@pytest.mark.parametrize(("status", "kind", "code"), REFUSALS)
def test_a_4xx_refusal_is_a_final_action_error_whatever_the_method(
    status: int, kind: type[ActionFailure], code: str, mutating: bool
) -> None:
    """The vendor said no: nothing happened, so the outcome is known and a retry is pointless."""
    error = ladder(status, mutating=mutating)
    assert shape(error) == (kind, code, "ActionError", False, True)
    assert error.vendor is not None
    assert (error.vendor.status, error.vendor.message) == (status, "nope")
    assert error.retry_after is None


def test_the_message_names_the_vendor_status_and_vendor_message() -> None:
    assert ladder(404).message == "Acme RMM returned 404: nope"
    unauthorized = ladder(401).message
    assert unauthorized.startswith("Acme RMM rejected the stored credentials (401: nope)")
    assert "reconnect" in unauthorized


@pytest.mark.parametrize("status", [408, 425, 500, 502, 503, 504])
def test_a_retryable_status_to_a_read_is_a_transient_failure_with_a_known_outcome(
    status: int,
) -> None:
    error = ladder(status, retry_after="7")
    assert shape(error) == (TransientFailure, "TRANSIENT_FAILURE", "TransientError", True, True)
    assert error.retry_after == 7.0
    assert error.message == f"Acme RMM returned {status}: nope"


@pytest.mark.parametrize("status", [501, 505, 507, 511, 599])
def test_other_5xx_to_a_read_are_vendor_errors_not_retried(status: int) -> None:
    """Not Implemented, HTTP Version Not Supported...: asking again gets the same answer."""
    assert shape(ladder(status)) == (VendorError, "VENDOR_ERROR", "ActionError", False, True)


@pytest.mark.parametrize("mutating", [False, True], ids=["read", "mutating"])
def test_a_429_is_rate_limited_with_its_retry_after_and_a_known_outcome(mutating: bool) -> None:
    """429 is in the default "not processed" set: even a mutating request may be sent again."""
    error = ladder(429, mutating=mutating, retry_after="30")
    assert shape(error) == (RateLimited, "RATE_LIMITED", "TransientError", True, True)
    assert error.retry_after == 30.0


def test_a_429_without_retry_after_leaves_the_wait_to_the_executor() -> None:
    assert ladder(429).retry_after is None


# -- mutating requests: a status that does not prove "not processed" ------------------


@pytest.mark.parametrize("status", [408, 425, 500, 501, 502, 503, 504, 599])
def test_an_ambiguous_answer_to_a_mutating_request_leaves_the_outcome_unknown(
    status: int,
) -> None:
    error = ladder(status, mutating=True, retry_after="5")
    assert shape(error) == (TransientFailure, "TRANSIENT_FAILURE", "TransientError", True, False)
    assert (
        error.message == f"Acme RMM returned {status}: nope (the request may have been carried out)"
    )
    assert error.retry_after == 5.0
    assert error.vendor is not None and error.vendor.status == status


def test_a_429_to_a_mutating_request_is_ambiguous_when_the_vendor_does_not_declare_it() -> None:
    """A client that drops 429 from its "not processed" set says its 429s may have acted."""
    error = ladder(429, mutating=True, not_processed=frozenset())
    assert shape(error) == (TransientFailure, "TRANSIENT_FAILURE", "TransientError", True, False)
    assert shape(ladder(429, not_processed=frozenset())) == (
        RateLimited,
        "RATE_LIMITED",
        "TransientError",
        True,
        True,
    )


# -- statuses a vendor declares "not processed" ---------------------------------------

DECLARED = frozenset({429, 503, 501})


@pytest.mark.parametrize("mutating", [False, True], ids=["read", "mutating"])
@pytest.mark.parametrize("status", [503, 501])
def test_a_declared_not_processed_5xx_is_retryable_with_a_known_outcome(
    status: int, mutating: bool
) -> None:
    """A documented "try later": safe to send again, even a mutating request, even a 501."""
    error = ladder(status, mutating=mutating, not_processed=DECLARED, retry_after="2")
    assert shape(error) == (TransientFailure, "TRANSIENT_FAILURE", "TransientError", True, True)
    assert error.retry_after == 2.0
    assert "may have been carried out" not in error.message


def test_undeclared_statuses_stay_ambiguous_next_to_declared_ones() -> None:
    assert ladder(502, mutating=True, not_processed=DECLARED).outcome_known is False
    assert ladder(502, not_processed=DECLARED).outcome_known is True


def test_declaring_a_4xx_not_processed_does_not_make_a_refusal_retryable() -> None:
    """A 4xx refusal is already a known outcome; the declaration only matters for 5xx."""
    error = ladder(400, mutating=True, not_processed=frozenset({400, 429}))
    assert shape(error) == (VendorError, "VENDOR_ERROR", "ActionError", False, True)


@pytest.mark.parametrize(
    ("status", "not_processed", "expected"),
    [
        (500, NOT_PROCESSED_STATUSES, True),
        (599, NOT_PROCESSED_STATUSES, True),
        (408, NOT_PROCESSED_STATUSES, True),
        (425, NOT_PROCESSED_STATUSES, True),
        (429, NOT_PROCESSED_STATUSES, False),
        (429, frozenset(), True),
        (503, frozenset({429, 503}), False),
        (400, NOT_PROCESSED_STATUSES, False),
        (404, NOT_PROCESSED_STATUSES, False),
        (409, NOT_PROCESSED_STATUSES, False),
    ],
)
def test_may_have_been_processed(
    status: int, not_processed: frozenset[int], expected: bool
) -> None:
    assert may_have_been_processed(status, not_processed) is expected


# -- Retry-After ----------------------------------------------------------------------


def retry_after(value: str | None, now: float | None = NOW) -> float | None:
    headers = {} if value is None else {"Retry-After": value}
    return retry_after_seconds(httpx.Response(503, headers=headers), now=now)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), ("0", 0.0), (" 3 ", 3.0), ("1.5", 1.5)],
)
def test_retry_after_in_delta_seconds(value: str, seconds: float) -> None:
    assert retry_after(value) == seconds


def test_a_negative_delta_means_now() -> None:
    assert retry_after("-5") == 0.0


@pytest.mark.parametrize(
    "form",
    [
        "Sun, 01 Mar 2026 12:01:30 GMT",  # IMF-fixdate, the preferred form
        "Sunday, 01-Mar-26 12:01:30 GMT",  # obsolete RFC 850
    ],
)
def test_retry_after_as_an_http_date_is_the_time_left_until_it(form: str) -> None:
    assert retry_after(form) == 90.0


def test_an_http_date_in_the_past_means_now() -> None:
    assert retry_after("Sun, 01 Mar 2026 11:59:00 GMT") == 0.0


def test_an_http_date_is_measured_from_the_wall_clock_by_default() -> None:
    later = format_datetime(datetime.fromtimestamp(time.time() + 60, UTC), usegmt=True)
    seconds = retry_after(later, now=None)
    assert seconds is not None and 55.0 <= seconds <= 60.0


@pytest.mark.parametrize("value", [None, "", "soon", "in 5 minutes", "Sun, 99 Foo 2026", "5s"])
def test_a_missing_or_unreadable_retry_after_is_none(value: str | None) -> None:
    assert retry_after(value) is None


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_a_delta_that_is_no_number_of_seconds_is_ignored(value: str) -> None:
    """Not finite: no wait a step could keep, and no value JSON can carry."""
    assert retry_after(value) is None


@pytest.fixture
def new_york() -> Iterator[None]:
    """The process's local time zone is not UTC for the test."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TZ", "America/New_York")
        time.tzset()
        try:
            yield
        finally:
            mp.undo()
            time.tzset()


@pytest.mark.usefixtures("new_york")
def test_an_http_date_is_gmt_whatever_the_local_time_zone() -> None:
    assert retry_after("Sun, 01 Mar 2026 12:01:30 GMT") == 90.0


@pytest.mark.usefixtures("new_york")
def test_the_asctime_form_is_gmt_whatever_the_local_time_zone() -> None:
    assert retry_after("Sun Mar  1 12:01:30 2026") == 90.0
