"""Every registered action, and every field of its input and output, says what it is.

Next to the schema law (test_schema_law.py): the designer and
``patchbay schemas --action`` show these descriptions to the person wiring a
step, so a new vendor module cannot register an action whose description, or
any input or output field's (nested ones too), is missing or a placeholder:
empty, ``TODO``, just the action id (``"``ninjaone.devices.reboot``."``), a
repetition of the field's name, or too short to say anything.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel, Field

from actionkit.inputs import StrictInput
from actionkit.spec import ActionSpec, ActionUI, AnyActionSpec
from catalog.bootstrap import build_catalog
from catalog.schema_fields import schema_fields

SPECS: dict[str, AnyActionSpec] = {spec.key: spec for spec in build_catalog().actions}
# Words that carry no meaning of their own when comparing a description with a name.
FILLER = {"the", "a", "an", "of", "its", "this", "that", "field", "value"}
PLACEHOLDERS = {"todo", "tbd", "fixme", "xxx", "placeholder"}
MIN_WORDS = 3


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def placeholder_reason(text: str, *names: str) -> str | None:
    """Why ``text`` is no description of something called ``names``, or None if it is one."""
    found = words(text)
    if not found:
        return "missing"
    if set(found) & PLACEHOLDERS:
        return f"a placeholder ({text!r})"
    meaningful = [w for w in found if w not in FILLER]
    for name in names:
        if meaningful == [w for w in words(name) if w not in FILLER]:
            return f"only repeats {name!r}"
    if len(found) < MIN_WORDS:
        return f"too short to say anything ({text!r})"
    return None


def description_problems(spec: AnyActionSpec) -> list[str]:
    """``"<where>: <why>"`` for every missing or placeholder description of ``spec``."""
    problems: list[str] = []

    def check(where: str, text: str, *names: str) -> None:
        reason = placeholder_reason(text, spec.id, spec.key, *names)
        if reason is not None:
            problems.append(f"{spec.key} {where}: {reason}")

    check("description", spec.ui.description, spec.ui.label)
    for part, schema in spec.json_schemas().items():
        schema_: dict[str, Any] = schema
        check(part, str(schema_.get("description", "")), part)
        for field in schema_fields(schema_):
            name = field.path.rsplit(".", 1)[-1].removesuffix("[]")
            check(f"{part}.{field.path}", field.description, name, field.path)
    return problems


@pytest.mark.parametrize("key", sorted(SPECS))
def test_every_action_and_field_has_a_real_description(key: str) -> None:
    assert description_problems(SPECS[key]) == []


def test_the_production_actions_are_all_checked() -> None:
    assert {k.split("@")[0] for k in SPECS} >= {
        "ninjaone.devices.find",
        "ninjaone.devices.reboot",
        "ninjaone.alerts.reset",
        "scheduling.create_entry",
        "scheduling.entries.sync_calendar",
    }


# -- the checker itself finds what it must ------------------------------------------


class _Inner(BaseModel):
    """One nested thing, described properly."""

    name: str = Field(description="TODO")
    ok: bool = Field(description="Whether the nested thing worked out.")


class _SloppyInput(StrictInput):
    """``sloppy.things.do``."""

    device_id: int = Field(description="Device id.")
    mode: str = Field(description="The mode.")
    fine: str = Field(description="A description that says what this is for.")


class _SloppyOutput(BaseModel):
    """What doing the thing returned, in full."""

    items: list[_Inner] = Field(description="The nested things, one per item done.")
    count: int


def _sloppy(_: _SloppyInput, __: Any) -> _SloppyOutput:
    raise NotImplementedError


def test_the_checker_finds_every_kind_of_placeholder() -> None:
    sloppy = ActionSpec(
        id="sloppy.things.do",
        version=1,
        input_model=_SloppyInput,
        output_model=_SloppyOutput,
        handler=_sloppy,
        side_effectful=False,
        ui=ActionUI(label="Do things", description="``sloppy.things.do``."),
    )
    problems = description_problems(sloppy)
    assert problems == [
        "sloppy.things.do@1 description: only repeats 'sloppy.things.do'",
        "sloppy.things.do@1 input: only repeats 'sloppy.things.do'",
        "sloppy.things.do@1 input.device_id: only repeats 'device_id'",
        "sloppy.things.do@1 input.mode: only repeats 'mode'",
        "sloppy.things.do@1 output.items[].name: a placeholder ('TODO')",
        "sloppy.things.do@1 output.count: missing",
    ]


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        ("", ("x",), "missing"),
        ("  ", ("x",), "missing"),
        ("Ask NinjaOne.", (), "too short to say anything ('Ask NinjaOne.')"),
        ("The Alert Uid", ("alert_uid",), "only repeats 'alert_uid'"),
        ("Ask NinjaOne instead of the local mirror.", ("live",), None),
    ],
)
def test_placeholder_reasons(text: str, names: tuple[str, ...], expected: str | None) -> None:
    assert placeholder_reason(text, *names) == expected
