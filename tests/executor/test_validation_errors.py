"""A validation error names every problem: one ``field: problem`` clause each.

The message lists the first ten (then ``and N more``), ``details.errors``
lists them all, and ``field`` (``details.field``) stays the first one, as
before; the payload keeps its contract fields.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from executor.payload import MAX_MESSAGE_PROBLEMS, Redactor, failure_payload, validation_failure


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: int
    end: int

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start >= self.end:
            raise ValueError("window.start must be before window.end")
        return self


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1)
    count: int
    window: Window


def refusal(data: object, model: type[BaseModel] = Entry) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return caught.value


def test_every_problem_is_named_in_the_message_and_listed_in_details() -> None:
    error = validation_failure(
        refusal({"title": "", "count": "x", "window": {"start": 2, "end": 1}})
    )
    assert error.message == (
        "input.title: String should have at least 1 character; "
        "input.count: Input should be a valid integer, unable to parse string as an integer; "
        "input.window: window.start must be before window.end"
    )
    assert error.field == "title"
    assert [e["field"] for e in (error.details or {})["errors"]] == ["title", "count", "window"]


def test_past_ten_the_message_counts_the_rest_and_details_keep_all() -> None:
    data = {"title": "t", "count": 1, "window": {"start": 1, "end": 2}}
    data.update({f"extra_{i:02}": i for i in range(13)})
    error = validation_failure(refusal(data))
    clauses = error.message.split("; ")
    assert len(clauses) == MAX_MESSAGE_PROBLEMS + 1
    assert clauses[-1] == "and 3 more"
    assert clauses[0] == "input.extra_00: Extra inputs are not permitted"
    assert len((error.details or {})["errors"]) == 13


def test_an_output_error_says_output_and_a_model_level_one_names_no_field_twice() -> None:
    error = validation_failure(refusal({"start": 3, "end": 1}, Window), prefix="output")
    assert error.message == "output: window.start must be before window.end"
    assert error.field == "output"


def test_the_payload_keeps_its_contract_fields() -> None:
    error = validation_failure(refusal({"count": 1}))
    payload = failure_payload(
        error,
        action_id="x.y.z",
        step_path="s1",
        at=datetime(2026, 1, 1, tzinfo=UTC),
        redactor=Redactor(),
    )
    assert set(payload) == {
        "category",
        "code",
        "message",
        "retryable",
        "details",
        "action_id",
        "step_path",
        "at",
    }
    assert (payload["code"], payload["category"], payload["retryable"]) == (
        "VALIDATION_ERROR",
        "ValidationError",
        False,
    )
    assert payload["details"]["field"] == "title"
    assert payload["message"] == "input.title: Field required; input.window: Field required"
