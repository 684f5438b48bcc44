"""The redactor and the error payload's size cap (``executor/payload.py``).

Redaction is by value (every secret loaded for the invocation, and each string
inside a JSON secret) and by key name; values too short to be credentials are
left alone. The stored payload is capped at 32 KiB.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from actionkit.errors import TransientFailure, VendorDetail, VendorError
from executor.context import StepLogger
from executor.payload import (
    MAX_PAYLOAD_BYTES,
    MIN_REDACT_LENGTH,
    REDACTED,
    Redactor,
    cap_payload,
    failure_payload,
)

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# -- by value -------------------------------------------------------------------------


def test_a_secret_value_is_replaced_wherever_it_appears() -> None:
    redactor = Redactor(["s3cr3t-CANARY"])
    assert redactor.text("key s3cr3t-CANARY, again s3cr3t-CANARY.") == (
        f"key {REDACTED}, again {REDACTED}."
    )
    assert redactor.text("nothing secret here") == "nothing secret here"


def test_values_can_be_added_after_construction() -> None:
    redactor = Redactor()
    assert redactor.text("tok-CANARY-1") == "tok-CANARY-1"
    redactor.add("tok-CANARY-1")
    assert redactor.text("tok-CANARY-1") == REDACTED


def test_the_longest_value_is_replaced_first() -> None:
    """A secret that contains another is scrubbed whole, leaving no tail of it behind."""
    redactor = Redactor(["abcd", "abcd-efgh-ijkl"])
    assert redactor.text("abcd-efgh-ijkl and abcd") == f"{REDACTED} and {REDACTED}"


def test_values_shorter_than_the_minimum_are_not_scrubbed() -> None:
    assert MIN_REDACT_LENGTH == 4
    redactor = Redactor(["abc", "", "wxyz"])
    assert redactor.text("abc is here, wxyz too") == f"abc is here, {REDACTED} too"


def test_each_string_inside_a_json_secret_is_scrubbed_on_its_own() -> None:
    secret = json.dumps(
        {
            "access_token": "at-CANARY-111",
            "nested": {"refresh_token": "rt-CANARY-222", "list": ["li-CANARY-333", 42, None]},
            "short": "ab",
            "expires_at": 1234567890,
        }
    )
    redactor = Redactor([secret])
    text = redactor.text(f"at-CANARY-111 rt-CANARY-222 li-CANARY-333 ab 1234567890 | {secret}")
    assert text == f"{REDACTED} {REDACTED} {REDACTED} ab 1234567890 | {REDACTED}"


def test_a_json_array_secret_is_scrubbed_by_its_strings() -> None:
    redactor = Redactor([json.dumps(["first-CANARY", ["second-CANARY"]])])
    assert redactor.text("first-CANARY second-CANARY") == f"{REDACTED} {REDACTED}"


def test_a_secret_that_only_looks_like_json_is_scrubbed_whole() -> None:
    redactor = Redactor(["{not json: CANARY-value}"])
    assert redactor.text("x {not json: CANARY-value} y") == f"x {REDACTED} y"
    assert redactor.text("CANARY-value") == "CANARY-value"


def test_the_redactor_does_not_show_its_values() -> None:
    assert repr(Redactor(["s3cr3t-CANARY", "other-CANARY"])) == "Redactor(2 values)"


# -- data: by value and by key name -----------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refreshToken",
        "password",
        "passwd",
        "api_key",
        "api-key",
        "apikey",
        "X-Api-Key",
        "Authorization",
        "credentials",
        "Cookie",
        "private_key",
        "PRIVATE-KEY",
    ],
)
def test_values_under_credential_looking_keys_are_redacted_unless_flags_or_nulls(key: str) -> None:
    redactor = Redactor()
    for value in ("plain", 12345, ["a", "b"], {"inner": "x"}):
        assert redactor.data({key: value}) == {key: REDACTED}
    # Neither can hold a credential, and hiding them hides facts (requires_authorization: true).
    for kept in (True, False, None):
        assert redactor.data({key: kept}) == {key: kept}


@pytest.mark.parametrize("key", ["name", "status", "message", "url", "keyboard", "pass"])
def test_values_under_other_keys_are_kept(key: str) -> None:
    assert Redactor().data({key: "visible"}) == {key: "visible"}


def test_nested_structures_are_scrubbed_by_key_and_by_value_at_any_depth() -> None:
    redactor = Redactor(["val-CANARY-9"])
    data: dict[str, Any] = {
        "details": {
            "attempts": [
                {"headers": {"Authorization": "Bearer x"}, "note": "sent val-CANARY-9"},
                ("tuple", "val-CANARY-9"),
            ],
            "count": 3,
            "ok": True,
            "missing": None,
            "ratio": 0.5,
        },
        "val-CANARY-9": "a key that is a secret is kept as a key",
    }
    assert redactor.data(data) == {
        "details": {
            "attempts": [
                {"headers": {"Authorization": REDACTED}, "note": f"sent {REDACTED}"},
                ["tuple", REDACTED],
            ],
            "count": 3,
            "ok": True,
            "missing": None,
            "ratio": 0.5,
        },
        "val-CANARY-9": "a key that is a secret is kept as a key",
    }


def test_data_returns_a_copy_and_leaves_the_input_alone() -> None:
    original = {"token": "t", "list": ["val-CANARY-9"]}
    copy = Redactor(["val-CANARY-9"]).data(original)
    assert original == {"token": "t", "list": ["val-CANARY-9"]}
    assert copy == {"token": REDACTED, "list": [REDACTED]}


def test_non_string_keys_are_stringified() -> None:
    assert Redactor().data({1: "one"}) == {"1": "one"}


# -- the failure payload --------------------------------------------------------------


def test_the_failure_payload_is_redacted_everywhere() -> None:
    redactor = Redactor(["key-CANARY-77"])
    error = TransientFailure(
        "vendor said key-CANARY-77 is wrong",
        vendor=VendorDetail(503, "echo: key-CANARY-77"),
        details={"api_key": "anything", "sent": ["key-CANARY-77"]},
        retry_after=1.23456,
    )
    payload = failure_payload(
        error, action_id="acme.things.do", step_path="root.steps[0]", at=AT, redactor=redactor
    )
    assert payload == {
        "category": "TransientError",
        "code": "TRANSIENT_FAILURE",
        "message": f"vendor said {REDACTED} is wrong",
        "retryable": True,
        "retry_after": 1.235,
        "vendor": {"status": 503, "message": f"echo: {REDACTED}"},
        "details": {"api_key": REDACTED, "sent": [REDACTED]},
        "action_id": "acme.things.do",
        "step_path": "root.steps[0]",
        "at": AT.isoformat(),
    }


def test_a_failure_without_optional_parts_has_no_such_keys() -> None:
    payload = failure_payload(
        VendorError("no"), action_id="a.b.c", step_path=None, at=AT, redactor=Redactor()
    )
    assert set(payload) == {
        "category",
        "code",
        "message",
        "retryable",
        "action_id",
        "step_path",
        "at",
    }


# -- the size cap ---------------------------------------------------------------------


def size(payload: dict[str, Any]) -> int:
    return len(json.dumps(payload, default=str).encode())


def test_a_payload_within_the_cap_is_returned_as_is() -> None:
    payload = {"message": "short", "details": {"a": 1}}
    assert cap_payload(payload) is payload


def test_oversized_details_are_dropped_first() -> None:
    payload = {
        "message": "m",
        "vendor": {"status": 500, "message": "v"},
        "details": {"x": "y" * 500},
    }
    capped = cap_payload(payload, limit=200)
    assert capped["details"] == {"truncated": True, "size": size(payload), "max": 200}
    assert capped["message"] == "m"
    assert capped["vendor"] == {"status": 500, "message": "v"}
    assert payload["details"] == {"x": "y" * 500}  # the original is untouched


def test_then_the_vendor_message_then_the_message_are_truncated() -> None:
    payload = {"message": "m" * 400, "vendor": {"status": 500, "message": "v" * 400}}
    capped = cap_payload(payload, limit=400)
    assert capped["vendor"] == {"status": 500, "message": "v" * 100 + "...[truncated]"}
    assert capped["message"] == "m" * 200 + "...[truncated]"
    assert size(capped) <= 400


def test_truncation_never_splits_a_character() -> None:
    payload = {"message": "é" * 300}  # two bytes each
    capped = cap_payload(payload, limit=301)
    assert capped["message"] == "é" * 75 + "...[truncated]"  # 150 bytes: between two chars


def test_truncation_inside_a_character_drops_the_partial_character() -> None:
    payload = {"message": "a" + "é" * 300}  # the cut at 150 bytes falls inside an "é"
    capped = cap_payload(payload, limit=301)
    assert capped["message"] == "a" + "é" * 74 + "...[truncated]"


def test_the_stored_payload_is_at_most_32_kib() -> None:
    assert MAX_PAYLOAD_BYTES == 32 * 1024
    error = VendorError(
        "x" * 40_000,
        vendor=VendorDetail(500, "y" * 40_000),
        details={"blob": "z" * 40_000},
    )
    payload = failure_payload(error, action_id="a.b.c", step_path=None, at=AT, redactor=Redactor())
    assert size(payload) <= MAX_PAYLOAD_BYTES
    assert payload["details"]["truncated"] is True
    assert payload["code"] == "VENDOR_ERROR"
    assert payload["message"].endswith("...[truncated]")


def test_a_credential_key_hides_any_value_but_a_flag_or_a_null() -> None:
    data = {
        "webhook_token": "abc123",
        "credentials": {"value": "x"},
        "tokens": ["a"],
        "requires_authorization_header": True,
        "pin_secret": 1234,
        "api_key": None,
    }
    assert Redactor().data(data) == {
        "webhook_token": REDACTED,
        "credentials": REDACTED,
        "tokens": REDACTED,
        "requires_authorization_header": True,
        "pin_secret": REDACTED,
        "api_key": None,
    }


# -- the step's log -------------------------------------------------------------------


def test_a_step_s_log_lines_and_tracebacks_never_carry_a_secret_it_loaded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Handlers log through ``ctx.logger``: a secret in a message, an argument or an
    exception's text is scrubbed before any handler sees the record."""
    canary = "canary-" + "s3cr3t-value-0042"
    redactor = Redactor([canary])
    log = StepLogger(logging.getLogger("patchbay.test.steplog"), {"tenant": "acme"}, redactor)
    with caplog.at_level(logging.DEBUG, logger="patchbay.test.steplog"):
        log.info("token %s accepted", canary)
        log.warning(f"inline {canary}")
        log.debug("%(x)s", {"x": canary})
        try:
            raise ValueError(f"vendor said: bad key {canary}")
        except ValueError:
            log.exception("request failed")
        log.info("bad format %d", "not-a-number " + canary)
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert len(caplog.records) == 5
    assert canary not in text
    assert text.count(REDACTED) == 5
    assert "ValueError: vendor said: bad key" in text  # the traceback is kept, scrubbed
    assert caplog.records[2].getMessage().startswith(REDACTED)  # "%(x)s" formatted as logging does
    assert all(r.__dict__["tenant"] == "acme" for r in caplog.records)
