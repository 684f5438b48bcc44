"""The recipes' own decisions, as plain functions: when a disk counts as fixed, the window."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from recipes import RECIPES
from recipes.common import SANDBOX_CHANNEL_ID, excerpt
from recipes.disk_full import cleanup_fixed
from recipes.escalation import next_quarter
from sandbox.microsoft import DEMO_CHANNEL_ID

NINJA_OK = {"completed": True, "result": "SUCCESS", "exit_code": 0, "output": "Removed 3 files."}


@pytest.mark.parametrize(
    ("rmm", "result", "expected"),
    [
        ("ninjaone", NINJA_OK, (True, "exit code 0")),
        ("ninjaone", NINJA_OK | {"exit_code": None}, (True, "the script succeeded")),
        ("ninjaone", NINJA_OK | {"result": "FAILURE"}, (False, "NinjaOne reported FAILURE")),
        ("ninjaone", NINJA_OK | {"exit_code": 2}, (False, "exit code 2")),
        ("ninjaone", NINJA_OK | {"completed": False}, (False, "NinjaOne reported no result")),
        (
            "ninjaone",
            NINJA_OK | {"output": "Disk C: still full"},
            (False, "the output says STILL FULL"),
        ),
        ("tacticalrmm", {"output": "Removed 3 files.\n"}, (True, "the script succeeded")),
        (
            "tacticalrmm",
            {"output": "done", "vendor_response": {"retcode": 0}},
            (True, "exit code 0"),
        ),
        (
            "tacticalrmm",
            {"output": "done", "vendor_response": {"retcode": 1}},
            (False, "exit code 1"),
        ),
        (
            "tacticalrmm",
            {"output": None, "vendor_response": "natsdown"},
            (True, "the script succeeded"),
        ),
        ("tacticalrmm", {"output": "STILL FULL"}, (False, "the output says STILL FULL")),
    ],
)
def test_when_the_cleanup_counts_as_fixed(
    rmm: str, result: dict[str, Any], expected: tuple[bool, str]
) -> None:
    assert cleanup_fixed(rmm, result, "STILL FULL") == expected


def test_the_marker_is_the_inputs() -> None:
    assert cleanup_fixed("tacticalrmm", {"output": "LOW SPACE"}, "low space") == (
        False,
        "the output says low space",
    )


def test_the_default_channel_is_the_sandboxs_service_desk() -> None:
    assert SANDBOX_CHANNEL_ID == DEMO_CHANNEL_ID
    for recipe in RECIPES.values():
        assert recipe.input_model.model_fields["channel_id"].default == DEMO_CHANNEL_ID


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC), datetime(2026, 12, 1, 9, 15, tzinfo=UTC)),
        (datetime(2026, 12, 1, 9, 14, 59, 9, tzinfo=UTC), datetime(2026, 12, 1, 9, 15, tzinfo=UTC)),
        (datetime(2026, 12, 1, 23, 50, tzinfo=UTC), datetime(2026, 12, 2, 0, 0, tzinfo=UTC)),
    ],
)
def test_the_window_starts_at_the_next_quarter_hour(at: datetime, expected: datetime) -> None:
    assert next_quarter(at) == expected


def test_an_excerpt_is_cut_and_marked() -> None:
    assert excerpt("  \n") == "(no output)"
    assert excerpt("abcdef", 4) == "abc…"
    assert excerpt(" short ") == "short"
