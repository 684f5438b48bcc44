"""The published schema is the law: an action accepts exactly the inputs its JSON Schema allows.

For every registered action (the production catalog, plus the widgets and
echo test integrations the executor and catalog tests register), the input
schema ``patchbay schemas`` publishes (``ActionSpec.json_schemas``) is checked
against the executor's own validation (``Pipeline.validate_input``), both ways,
with a JSON Schema 2020-12 validator that asserts formats (``date-time``,
``uuid``):

- every input generated from the schema is accepted;
- inputs mutated away from a valid one, and arbitrary objects over the
  schema's property names, are accepted exactly when the schema says valid;
  a refusal is a VALIDATION_ERROR naming a field the schema also blames.

The one known exception, which no JSON Schema can state (it compares no two
values): ``scheduling.create_entry`` refuses a window whose start is not
before its end. Values no JSON text can hold (NaN, Python objects, lone
surrogates) are out of scope: they never arrive in a message, and a Python
caller's are refused as not JSON.

hypothesis-jsonschema generates the leaf values (strings by pattern and
format, numbers by bounds); objects are assembled here, because its own
object strategy relies on Hypothesis internals that newer Hypothesis
releases changed.

Refusals also send nothing: one step per NinjaOne and scheduling action
family runs a schema-invalid input through the pipeline against the fake
vendor, which must log no request, and the ledger no step.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import (
    Draft202012Validator,
    FormatChecker,
    ValidationError,
)
from pydantic import SecretStr
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import func, select

from actionkit.errors import ValidationFailed
from actionkit.inputs import (
    DATE_TIME_SCHEMA,
    UUID_SCHEMA,
    Rfc3339DateTime,
    StrictInput,
    UuidStr,
    parse_input,
)
from actionkit.spec import AnyActionSpec
from catalog.bootstrap import build_catalog
from executor.pipeline import Pipeline, Rejected
from executor.settings import Settings
from executor.throttle import MemoryThrottle, Throttle
from sandbox.microsoft import FakeMicrosoft
from store import Store
from store.models import RmmAlert, RmmIntegration, WorkflowActionInvocation
from tests.catalog.testmodules import catalog_with
from tests.executor.widgets_integration import widgets_catalog
from tests.integrations.ninjaone import conftest as ninjaone_fixtures
from tests.integrations.ninjaone.conftest import TENANT, NinjaHarness, rejection_of
from tests.integrations.scheduling.conftest import make_pipeline, run

# The NinjaOne harness (a tenant connected to the in-process fake), reused here.
ninja = ninjaone_fixtures.ninja

SPECS: dict[str, AnyActionSpec] = {
    spec.key: spec
    for catalog in (build_catalog(), widgets_catalog(), catalog_with("tacticalrmm"))
    for spec in catalog.actions
}
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# -- the schema's verdict -----------------------------------------------------------

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-]([0-9]{2}):([0-9]{2}))"
)
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_rfc3339_date_time(instance: object) -> bool:
    """JSON Schema's ``date-time``: RFC 3339 section 5.6 (jsonschema needs a plug-in for it)."""
    if not isinstance(instance, str):
        return True
    match = _RFC3339.fullmatch(instance)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS[month - 1] + (leap and month == 2):
        return False
    offset_hour, offset_minute = (int(g or 0) for g in match.groups()[6:])
    return (
        hour <= 23 and minute <= 59 and second <= 60 and offset_hour <= 23 and offset_minute <= 59
    )


FORMATS = FormatChecker()
FORMATS.checks("date-time")(is_rfc3339_date_time)


@cache
def input_schema(key: str) -> dict[str, Any]:
    schema: dict[str, Any] = SPECS[key].json_schemas()["input"]
    Draft202012Validator.check_schema(schema)
    return schema


@cache
def validator(key: str) -> Draft202012Validator:
    return Draft202012Validator(input_schema(key), format_checker=FORMATS)


def schema_valid(key: str, instance: Any) -> bool:
    return bool(validator(key).is_valid(instance))


def blamed(key: str, instance: Any) -> set[tuple[str, ...]]:
    """Where the schema finds fault: the paths of its innermost errors."""

    def leaves(errors: Iterator[ValidationError] | list[ValidationError]) -> Iterator[Any]:
        for error in errors:
            if error.context:
                yield from leaves(error.context)
                continue
            path = tuple(str(p) for p in error.absolute_path)
            instance: Any = error.instance
            if error.validator == "required":
                wanted: Any = error.validator_value
                yield from ((*path, n) for n in wanted if n not in instance)
            elif error.validator == "additionalProperties":
                schema: Any = error.schema
                named = schema.get("properties", {})
                yield from ((*path, n) for n in instance if n not in named)
            else:
                yield path

    return set(leaves(validator(key).iter_errors(instance)))


# -- the executor's verdict ---------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """A pipeline for its ``validate_input``: what every delivered step goes through."""
    path: Path = tmp_path_factory.mktemp("schema-law")
    store = Store.from_settings(
        Settings(
            data_dir=path,
            database_url=f"sqlite:///{path / 'unused.sqlite'}",
            secret_key=SecretStr("schema-law-test-key"),
        )
    )
    built = Pipeline(
        catalog=build_catalog(),
        store=store,
        settings=Settings(),
        throttle=Throttle(MemoryThrottle(), {}),
    )
    try:
        yield built
    finally:
        built.close()
        store.close()


def refusal(pipeline: Pipeline, key: str, instance: Any) -> ValidationFailed | None:
    """The executor's VALIDATION_ERROR for ``instance``, or None if it accepts it."""
    try:
        pipeline.validate_input(SPECS[key], instance)
    except ValidationFailed as error:
        return error
    return None


def window_out_of_order(key: str, instance: Any) -> bool:
    """The known exception: a create_entry window whose start is not before its end."""
    if not key.startswith("scheduling.create_entry@"):
        return False
    try:
        window = instance["window"]
        zone = ZoneInfo(window["timezone"]) if window.get("timezone") else None

        def instant(text: str) -> datetime:
            value = datetime.fromisoformat(text.upper())
            return value if value.tzinfo else value.replace(tzinfo=zone)

        return instant(window["start"]) >= instant(window["end"])
    except (LookupError, TypeError, ValueError, AttributeError):
        return False  # not a window the rule applies to; the schema blames it itself


def nul_at(value: Any, where: str = "input") -> str | None:
    """The other known exception: where the first text holding a NUL is (an object
    key's NUL is its object's), in the order the executor walks the input; else None.

    JSON carries U+0000 and the schemas do not forbid it, but the ledger's jsonb
    cannot store it, so the executor refuses it, naming that field.
    """
    if isinstance(value, str):
        return where if "\x00" in value else None
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        if any("\x00" in str(name) for name in value):
            return where
        items = [(str(name), item) for name, item in value.items()]
    elif isinstance(value, list):
        items = [(str(i), item) for i, item in enumerate(value)]
    for name, item in items:
        found = nul_at(item, name if where == "input" else f"{where}.{name}")
        if found is not None:
            return found
    return None


def assert_the_law(pipeline: Pipeline, key: str, instance: Any) -> None:
    """Accepted exactly when schema-valid; refused naming a field the schema blames."""
    valid = schema_valid(key, instance)
    error = refusal(pipeline, key, instance)
    shown = json.dumps(instance)[:500]
    nul = nul_at(instance)
    if nul is not None:
        assert error is not None and error.code == "VALIDATION_ERROR", (key, shown)
        assert error.field == nul, (key, shown, error.field)
        return
    if valid and window_out_of_order(key, instance):
        assert error is not None and error.field == "window", (key, shown)
        return
    if valid:
        assert error is None, f"{key}: schema-valid input refused: {shown}: {error}"
        return
    assert error is not None, (
        f"{key}: schema-invalid input accepted: {shown}: {blamed(key, instance)}"
    )
    assert error.code == "VALIDATION_ERROR"
    field = tuple((error.field or "").split("."))
    faults = blamed(key, instance) | (
        {("window",)} if window_out_of_order(key, instance) else set()
    )
    assert any(field[: len(fault)] == fault or fault[: len(field)] == field for fault in faults), (
        f"{key}: refused naming {error.field!r}, the schema blames {sorted(faults)}: {shown}"
    )


# -- inputs -------------------------------------------------------------------------


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return _resolve(defs[ref.removeprefix("#/$defs/")], defs)


def values_for(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of one property's schema (objects assembled here, leaves by hypothesis-jsonschema)."""
    schema = _resolve(schema, defs)
    if schema.get("type") == "object":
        return objects_for(schema, defs)
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict) and "$ref" in items:
        # An array of objects (e.g. a card's links): each item assembled here too.
        return st.lists(
            values_for(items, defs),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 3), 3),
        )
    options = schema.get("anyOf", [])
    if "type" not in schema and any("$ref" in o or o.get("type") == "object" for o in options):
        return st.one_of([values_for(o, defs) for o in options])
    return from_schema(schema)


def objects_for(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects of the schema's properties: each required one, the others or not."""
    required = set(schema.get("required", ()))
    fields = {name: values_for(sub, defs) for name, sub in schema["properties"].items()}

    @st.composite
    def an_object(draw: st.DrawFn) -> dict[str, Any]:
        return {
            name: draw(values)
            for name, values in fields.items()
            if name in required or draw(st.booleans())
        }

    return an_object()


@cache
def valid_inputs(key: str) -> st.SearchStrategy[dict[str, Any]]:
    """Inputs the schema allows (cross-field rules by filtering)."""
    schema = input_schema(key)
    return objects_for(schema, schema.get("$defs", {})).filter(lambda x: schema_valid(key, x))


JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
# Each other JSON type, and near misses of every format and rule in the schemas.
NEAR_MISSES: list[Any] = [
    "5",
    "",
    " ",
    "yes",
    "true",
    True,
    False,
    0,
    1,
    -1,
    5.0,
    1.5,
    -0.5,
    2**31,
    10**12,
    -(10**12),
    None,
    [],
    {},
    ["x"],
    {"x": 1},
    "x" * 256,
    "x" * 513,
    "not-a-uuid",
    "00000000-0000-0000-0000-00000000000g",
    "12345678123456781234567812345678",
    "{12345678-1234-5678-1234-567812345678}",
    "urn:uuid:12345678-1234-5678-1234-567812345678",
    "12345678-1234-5678-1234-567812345678\n",
    "ABCDEF01-2345-6789-ABCD-EF0123456789",
    "2026-12-01T09:00:00Z",
    "2026-12-01T09:00:00+01:00",
    "2026-12-01T09:00:00",
    "2026-12-01 09:00:00Z",
    "2026-12-01t09:00:00.5z",
    "2026-12-01",
    "09:00:00Z",
    "2026-02-30T09:00:00Z",
    "2028-02-29T09:00:00Z",
    "2100-02-29T09:00:00Z",
    "2026-12-01T24:00:00Z",
    "2026-12-01T09:00:60Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-12-01T09:00:00Z\n",
    "2026-12-01T09:00:00+24:00",
    "Europe/Berlin",
    "UTC",
    "Mars/Olympus_Mons",
    "localtime",
    "europe/berlin",
    "SYSTEM",
    "system",
    " SYSTEM",
    "SYSTEM\n",
    "1234",
    "12a",
    "ACTION",
    "SCRIPT",
    "PROGRAM",
    "NORMAL",
    "FORCED",
    "ticket",
    "project_task",
    "scheduled",
    "cancelled",
    "override",
]


@st.composite
def mutated_inputs(draw: st.DrawFn, key: str) -> dict[str, Any]:
    """A valid input with one thing changed: a value replaced, a field dropped or added."""
    instance: dict[str, Any] = json.loads(json.dumps(draw(valid_inputs(key))))
    schema = input_schema(key)
    places: list[tuple[Any, Any]] = [(instance, name) for name in schema["properties"]]
    stack: list[Any] = [instance]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for name, value in list(items):
            places.append((node, name))
            if isinstance(value, dict | list):
                stack.append(value)
    # An action without inputs ({}): the one mutation there is is adding a field.
    node, name = draw(st.sampled_from(places or [(instance, "extra")]))
    how = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
    if how == "drop" and isinstance(node, dict):
        node.pop(name, None)
    elif how == "add" and isinstance(node, dict):
        node[draw(st.sampled_from(["extra", "deviceId", "runAs", "Title"]))] = draw(JSON_VALUES)
    else:
        node[name] = draw(st.sampled_from(NEAR_MISSES) | JSON_VALUES)
    return instance


@cache
def arbitrary_inputs(key: str) -> st.SearchStrategy[dict[str, Any]]:
    """Objects over the schema's property names, with values of any property's kind or none."""
    schema = input_schema(key)
    defs = schema.get("$defs", {})
    names = sorted(schema["properties"])
    any_value = st.one_of(
        st.sampled_from(NEAR_MISSES),
        JSON_VALUES,
        *(values_for(sub, defs) for sub in schema["properties"].values()),
    )
    return st.dictionaries(st.sampled_from([*names, "extra"]), any_value, max_size=len(names) + 1)


# -- both directions, every action --------------------------------------------------


def test_every_action_is_covered() -> None:
    assert len(SPECS) >= 18
    assert {k.split("@")[0] for k in SPECS} >= {
        "ninjaone.devices.find",
        "ninjaone.devices.run_script",
        "ninjaone.alerts.reset",
        "scheduling.create_entry",
        "scheduling.entries.sync_calendar",
    }


@pytest.mark.parametrize("key", sorted(SPECS))
@EXAMPLES
@given(data=st.data())
def test_every_schema_valid_input_is_accepted(
    pipeline: Pipeline, key: str, data: st.DataObject
) -> None:
    instance = data.draw(valid_inputs(key))
    assert_the_law(pipeline, key, instance)


@pytest.mark.parametrize("key", sorted(SPECS))
@EXAMPLES
@given(data=st.data())
def test_a_mutated_input_is_accepted_exactly_when_schema_valid(
    pipeline: Pipeline, key: str, data: st.DataObject
) -> None:
    assert_the_law(pipeline, key, data.draw(mutated_inputs(key)))


@pytest.mark.parametrize("key", sorted(SPECS))
@EXAMPLES
@given(data=st.data())
def test_an_arbitrary_object_is_accepted_exactly_when_schema_valid(
    pipeline: Pipeline, key: str, data: st.DataObject
) -> None:
    assert_the_law(pipeline, key, data.draw(arbitrary_inputs(key)))


# -- the auditor's cases ------------------------------------------------------------

WINDOW = {"start": "2026-12-01T09:00:00Z", "end": "2026-12-01T10:00:00Z"}
TECH = "abcdef01-2345-6789-abcd-ef0123456789"
ENTRY = {"assigned_user_ids": [TECH], "title": "Replace disk", "window": WINDOW}
SCRIPT = {"device_id": 1, "script_id": 1}

# (action, input, the field the refusal must name): coerced before, refused now.
AUDITED: list[tuple[str, dict[str, Any], str]] = [
    ("ninjaone.devices.find", {"device_id": "5"}, "device_id"),
    ("ninjaone.devices.find", {"device_id": True}, "device_id"),
    ("ninjaone.devices.reboot", {"device_id": "5"}, "device_id"),
    ("ninjaone.devices.find", {"live": "yes"}, "live"),
    ("ninjaone.alerts.list_active", {"live": "yes"}, "live"),
    ("ninjaone.devices.find", {"limit": True}, "limit"),
    ("ninjaone.alerts.list_active", {"limit": True}, "limit"),
    ("ninjaone.devices.run_script", {**SCRIPT, "wait_for_result": 0}, "wait_for_result"),
    ("ninjaone.devices.run_script", {**SCRIPT, "script_id": "1"}, "script_id"),
    ("ninjaone.devices.run_script", {**SCRIPT, "run_as": "system"}, "run_as"),
    ("ninjaone.alerts.reset", {"alert_uid": "not-a-uuid"}, "alert_uid"),
    ("ninjaone.alerts.reset", {"external_alert_id": "not-a-uuid"}, "external_alert_id"),
    ("ninjaone.alerts.get", {"alert_uid": "../v2/devices"}, "alert_uid"),
    ("scheduling.create_entry", {**ENTRY, "window": {"start": 1, "end": 2}}, "window.start"),
    (
        "scheduling.create_entry",
        {**ENTRY, "window": {**WINDOW, "start": "2026-12-01T09:00:00"}},
        "window",
    ),
    ("scheduling.create_entry", {**ENTRY, "assigned_user_ids": [1]}, "assigned_user_ids.0"),
    ("scheduling.entries.sync_calendar", {"entry_id": "not-a-uuid"}, "entry_id"),
]


@pytest.mark.parametrize(("action", "bad", "field"), AUDITED)
def test_the_audited_coercions_are_refused(
    pipeline: Pipeline, action: str, bad: dict[str, Any], field: str
) -> None:
    key = f"{action}@1"
    assert not schema_valid(key, bad)
    error = refusal(pipeline, key, bad)
    assert error is not None
    assert (error.code, error.field) == ("VALIDATION_ERROR", field)
    assert_the_law(pipeline, key, bad)


@pytest.mark.parametrize(
    ("action", "good"),
    [
        ("ninjaone.devices.find", {"device_id": 5.0, "limit": 10.0}),  # JSON's 5.0 is 5
        ("ninjaone.alerts.reset", {"alert_uid": "ABCDEF01-2345-6789-ABCD-EF0123456789"}),
        (
            "scheduling.create_entry",
            {**ENTRY, "window": {**WINDOW, "start": "2026-12-01t09:00:00z"}},
        ),
        (
            "scheduling.create_entry",
            {
                **ENTRY,
                "window": {
                    "start": "2026-12-01T09:00:00",
                    "end": "2026-12-01T10:00:00",
                    "timezone": "Europe/Berlin",
                },
            },
        ),
    ],
)
def test_what_the_schema_allows_is_accepted(
    pipeline: Pipeline, action: str, good: dict[str, Any]
) -> None:
    key = f"{action}@1"
    assert schema_valid(key, good)
    assert refusal(pipeline, key, good) is None


def test_the_known_exception_a_window_must_run_forward(pipeline: Pipeline) -> None:
    backwards = {**ENTRY, "window": {"start": WINDOW["end"], "end": WINDOW["start"]}}
    assert schema_valid("scheduling.create_entry@1", backwards)
    error = refusal(pipeline, "scheduling.create_entry@1", backwards)
    assert error is not None and error.field == "window"
    assert "window.start must be before window.end" in error.message


def test_not_json_is_refused_naming_where(pipeline: Pipeline) -> None:
    key = "ninjaone.devices.find@1"
    for bad, field in (
        ({"limit": float("nan")}, "limit"),
        ({"asset_id": uuid.uuid4()}, "asset_id"),
        ({"query": "\ud800"}, "query"),
        # JSON carries U+0000, but the ledger's jsonb cannot store it.
        ({"query": "disk\x00full"}, "query"),
        ({"qu\x00ery": "disk"}, "input"),
    ):
        error = refusal(pipeline, key, bad)
        assert error is not None and (error.code, error.field) == ("VALIDATION_ERROR", field)


def test_a_validated_input_is_stored_in_a_form_that_validates_again(pipeline: Pipeline) -> None:
    # The ledger keeps model_dump(mode="json"); a re-driven step is validated from it.
    entry = {
        **ENTRY,
        "title": "  Replace disk ",
        "assigned_user_ids": [TECH.upper(), TECH],
        "window": {
            "start": "2026-12-01T09:00:00",
            "end": "2026-12-01T10:00:00",
            "timezone": "Europe/Berlin",
        },
    }
    model = pipeline.validate_input(SPECS["scheduling.create_entry@1"], entry)
    stored = model.model_dump(mode="json")
    assert stored["title"] == "Replace disk"
    assert stored["assigned_user_ids"] == [TECH]  # one user, however spelled
    assert stored["window"]["start"] == "2026-12-01T09:00:00+01:00"
    again = pipeline.validate_input(SPECS["scheduling.create_entry@1"], stored)
    assert again.model_dump(mode="json") == stored


class Stamped(StrictInput):
    at: Rfc3339DateTime
    ref: UuidStr


def test_the_shared_strict_types_publish_what_they_accept() -> None:
    properties = Stamped.model_json_schema()["properties"]
    assert properties["at"] == {**DATE_TIME_SCHEMA, "title": "At"}
    assert properties["ref"] == {**UUID_SCHEMA, "title": "Ref"}
    stamped = parse_input(Stamped, {"at": "2026-12-01t09:00:00.5+01:00", "ref": TECH.upper()})
    assert stamped.at.isoformat() == "2026-12-01T09:00:00.500000+01:00"
    assert stamped.ref == TECH  # canonical, as it goes into a vendor's path
    for bad in (
        {"at": "2026-12-01T09:00:00", "ref": TECH},  # no offset
        {"at": "2026-12-01 09:00:00Z", "ref": TECH},
        {"at": 1_764_579_600, "ref": TECH},
        {"at": "2026-12-01T09:00:00Z", "ref": TECH.replace("-", "")},
    ):
        with pytest.raises(PydanticValidationError):
            parse_input(Stamped, bad)
    with pytest.raises(PydanticValidationError):  # built in code, still aware
        Stamped(at=datetime(2026, 12, 1, 9), ref=TECH)


# -- refused before anything is sent ------------------------------------------------


def invocations(store: Store) -> int:
    with store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(WorkflowActionInvocation)) or 0)


@pytest.mark.parametrize(
    ("action", "bad", "field"),
    [
        ("devices.find", {"device_id": "5", "live": True}, "device_id"),
        ("devices.reboot", {"device_id": True}, "device_id"),
        ("devices.run_script", {**SCRIPT, "wait_for_result": 0}, "wait_for_result"),
        ("devices.scripting_options", {"device_id": 1.5}, "device_id"),
        ("alerts.list_active", {"live": "yes"}, "live"),
        ("alerts.reset", {"alert_uid": "not-a-uuid"}, "alert_uid"),
        ("alerts.get", {"external_alert_id": "not-a-uuid"}, "external_alert_id"),
    ],
)
def test_a_schema_invalid_ninjaone_step_sends_nothing(
    ninja: NinjaHarness, action: str, bad: dict[str, Any], field: str
) -> None:
    payload = rejection_of(ninja.run(action, bad))
    assert (payload["code"], payload["details"]["field"]) == ("VALIDATION_ERROR", field)
    assert ninja.fake.requests == []
    assert invocations(ninja.store) == 0


def test_a_mirrored_alert_uid_that_is_not_a_uuid_never_reaches_the_reset_path(
    ninja: NinjaHarness,
) -> None:
    local = uuid.uuid4()
    with ninja.store.sessions.begin() as session:
        integration_id = session.scalar(
            select(RmmIntegration.integration_id).where(RmmIntegration.tenant == TENANT)
        )
        assert integration_id is not None
        session.add(
            RmmAlert(
                tenant=TENANT,
                alert_id=local,
                integration_id=integration_id,
                external_alert_id="../../v2/devices",
                external_device_id="1",
                status="active",
            )
        )
    error = ninjaone_fixtures.error_of(ninja.run("alerts.reset", {"alert_uid": str(local)}))
    assert error["code"] == "ALERT_UID_INVALID"
    assert ninja.fake.calls("POST") == []


def test_a_schema_invalid_scheduling_step_writes_and_sends_nothing(
    store: Store, settings: Settings
) -> None:
    fake = FakeMicrosoft()
    pipeline = make_pipeline(store, settings, fake)
    refused: list[tuple[str, dict[str, object], str]] = [
        ("scheduling.create_entry", {**ENTRY, "window": {"start": 1, "end": 2}}, "window.start"),
        ("scheduling.create_entry", {**ENTRY, "title": " "}, "title"),
        ("scheduling.entries.sync_calendar", {"entry_id": "not-a-uuid"}, "entry_id"),
    ]
    for action, bad, field in refused:
        outcome = run(pipeline, f"bad-{field}", bad, action)
        assert isinstance(outcome, Rejected), outcome
        payload = outcome.payload
        assert (payload["code"], payload["details"]["field"]) == ("VALIDATION_ERROR", field)
    assert fake.requests == []
    assert invocations(store) == 0
