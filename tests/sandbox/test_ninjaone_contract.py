"""Contract: FakeNinjaOne against the vendor's own OpenAPI spec and OAuth metadata.

Reads ``shared/vendor-specs/`` beside the repository (``../shared`` from the
repo root) and skips, saying why, when that folder is absent. Checks that
every route the fake serves under ``/v2`` is in the spec, that the fake's
JSON answers for the main operations validate against the spec's response
schemas, and that the request bodies the behaviour tests send validate
against the spec's request schemas. The validator is a small hand-rolled
subset of OpenAPI 3.0 schema semantics ($ref, type, format int32/uuid,
enum, required, properties, additionalProperties, items, uniqueItems,
nullable, allOf/anyOf/oneOf); it is strict about undeclared properties, so
a misspelt field fails, with a short explicit allow-list for the fields the
real API returns beyond the spec.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import yaml

from sandbox.core import ManualClock
from sandbox.ninjaone import (
    ACTIVITY_PAGE_DEFAULT,
    ACTIVITY_PAGE_MAX,
    ACTIVITY_PAGE_MIN,
    GRANT_TYPES,
    REBOOT_MODES,
    FakeNinjaOne,
)
from tests.sandbox.ninjaone_samples import (
    ALERT_RESET_BODIES,
    CLIENT_ID,
    REBOOT_BODIES,
    RUN_SCRIPT_BODIES,
    SERVER,
    WINDOWS,
    seed,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECS_DIR = REPO_ROOT.parent / "shared" / "vendor-specs"
API_SPEC = SPECS_DIR / "ninjaone-public-api-v2.yml"
OAUTH_METADATA = SPECS_DIR / "ninjaone-oauth-authorization-server.json"

# Device properties the real API returns that the spec's Device schema lacks.
DEVICE_EXTRAS = frozenset({"os"})
INT32 = (-(2**31), 2**31 - 1)

Spec = dict[str, Any]


def _require(path: Path) -> None:
    if not path.is_file():
        pytest.skip(
            f"NinjaOne vendor spec not found at {path}: the contract test needs the "
            "shared/vendor-specs folder beside the repository"
        )


@pytest.fixture(scope="module")
def spec() -> Spec:
    _require(API_SPEC)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with API_SPEC.open(encoding="utf-8") as f:
        loaded: Spec = yaml.load(f, Loader=loader)  # noqa: S506 (a safe loader)
    return loaded


@pytest.fixture(scope="module")
def oauth_metadata() -> dict[str, Any]:
    _require(OAUTH_METADATA)
    loaded: dict[str, Any] = json.loads(OAUTH_METADATA.read_text(encoding="utf-8"))
    return loaded


# -- a small OpenAPI 3.0 schema validator -------------------------------------------


def resolve(spec: Spec, schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow ``$ref`` (local references only) until a schema remains."""
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), f"external $ref {ref}"
        node: Any = spec
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    return schema


def validate(
    spec: Spec,
    value: Any,
    schema: Mapping[str, Any],
    where: str = "$",
    extras: frozenset[str] = frozenset(),
) -> list[str]:
    """Every way ``value`` breaks ``schema``, as ``"<json path>: <problem>"`` strings."""
    schema = resolve(spec, schema)
    errors: list[str] = []
    for part in schema.get("allOf", ()):
        errors += validate(spec, value, part, where, extras)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if options:
            matching = [o for o in options if not validate(spec, value, o, where, extras)]
            if not matching or (key == "oneOf" and len(matching) > 1):
                errors.append(f"{where}: matches {len(matching)} of the {key} schemas")
    if value is None:
        return errors if schema.get("nullable") else [*errors, f"{where}: null"]
    kind = schema.get("type") or ("object" if "properties" in schema else None)
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in enum")
    if kind == "object":
        errors += _validate_object(spec, value, schema, where, extras)
    elif kind == "array":
        if not isinstance(value, list):
            return [*errors, f"{where}: expected array, got {type(value).__name__}"]
        if schema.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in value}) != len(
            value
        ):
            errors.append(f"{where}: items are not unique")
        for i, item in enumerate(value):
            errors += validate(spec, item, schema.get("items", {}), f"{where}[{i}]", extras)
    elif kind == "string":
        if not isinstance(value, str):
            return [*errors, f"{where}: expected string, got {type(value).__name__}"]
        if schema.get("format") == "uuid":
            try:
                uuid.UUID(value)
            except ValueError:
                errors.append(f"{where}: {value!r} is not a uuid")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return [*errors, f"{where}: expected integer, got {type(value).__name__}"]
        if schema.get("format") == "int32" and not INT32[0] <= value <= INT32[1]:
            errors.append(f"{where}: {value} is not an int32")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(f"{where}: expected number, got {type(value).__name__}")
    elif kind == "boolean" and not isinstance(value, bool):
        errors.append(f"{where}: expected boolean, got {type(value).__name__}")
    return errors


def _validate_object(
    spec: Spec, value: Any, schema: Mapping[str, Any], where: str, extras: frozenset[str]
) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected object, got {type(value).__name__}"]
    errors = [
        f"{where}: missing required {name!r}"
        for name in schema.get("required", ())
        if name not in value
    ]
    properties: Mapping[str, Any] = schema.get("properties", {})
    additional = schema.get("additionalProperties")
    for name, item in value.items():
        path = f"{where}.{name}"
        if name in properties:
            errors += validate(spec, item, properties[name], path, extras)
        elif isinstance(additional, dict):
            errors += validate(spec, item, additional, path, extras)
        elif additional is True or not properties or name in extras:
            continue
        else:
            errors.append(f"{where}: property {name!r} is not in the schema")
    return errors


# -- the spec's operations ----------------------------------------------------------------


def template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]+\}", template)
    return re.compile("^" + "[^/]+".join(re.escape(p) for p in parts) + "$")


def normalize(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", template)


def operation(spec: Spec, method: str, path: str) -> tuple[str, Mapping[str, Any]]:
    """The spec's ``(template, operation)`` serving a concrete request path."""
    matches = [
        (template, item[method.lower()])
        for template, item in spec["paths"].items()
        if method.lower() in item and template_regex(template).match(path)
    ]
    # A literal template (``/v2/devices-detailed``) beats a parameterised one.
    matches.sort(key=lambda m: m[0].count("{"))
    assert matches, f"{method} {path} is not in the spec"
    return matches[0]


def response_schema(op: Mapping[str, Any]) -> Mapping[str, Any]:
    responses = op["responses"]
    declared = responses.get("200") or responses["default"]
    schema: Mapping[str, Any] = declared["content"]["application/json"]["schema"]
    return schema


def request_schema(op: Mapping[str, Any]) -> Mapping[str, Any]:
    schema: Mapping[str, Any] = op["requestBody"]["content"]["application/json"]["schema"]
    return schema


def parameter(spec: Spec, template: str, method: str, name: str) -> Mapping[str, Any]:
    op = spec["paths"][template][method]
    (param,) = [p for p in op["parameters"] if p["name"] == name]
    return resolve(spec, param["schema"])


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ninja(clock: ManualClock) -> FakeNinjaOne:
    fake = FakeNinjaOne(clock=clock, script_result_delay=10.0, reboot_delay=5.0)
    seed(fake)
    return fake


@pytest.fixture
def api(ninja: FakeNinjaOne) -> Iterator[httpx.Client]:
    token = ninja.issue_access_token(CLIENT_ID)
    with httpx.Client(
        transport=ninja.transport(),
        base_url="https://app.ninja.test",
        headers={"Authorization": f"Bearer {token}"},
    ) as c:
        yield c


# -- routes -----------------------------------------------------------------------------------


def test_every_v2_route_of_the_fake_is_in_the_spec(spec: Spec) -> None:
    served = {(m, normalize(p)) for m, p in FakeNinjaOne().routes if p.startswith("/v2")}
    in_spec = {
        (method.upper(), normalize(template))
        for template, item in spec["paths"].items()
        for method in item
    }
    assert served, "the fake serves no /v2 routes"
    assert served - in_spec == set()


def test_oauth_routes_and_grants_match_the_metadata(oauth_metadata: dict[str, Any]) -> None:
    served = {(m, p) for m, p in FakeNinjaOne().routes if not p.startswith("/v2")}
    assert served == {
        ("POST", urlparse(oauth_metadata["token_endpoint"]).path),
        ("POST", urlparse(oauth_metadata["revocation_endpoint"]).path),
    }
    assert set(GRANT_TYPES) == set(oauth_metadata["grant_types_supported"])
    assert set(oauth_metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }


def test_constants_follow_the_spec(spec: Spec) -> None:
    mode = parameter(spec, "/v2/device/{id}/reboot/{mode}", "post", "mode")
    assert tuple(mode["enum"]) == REBOOT_MODES
    run = resolve(spec, {"$ref": "#/components/schemas/RunScriptRequest"})
    assert set(run["properties"]["type"]["enum"]) == {"SCRIPT", "ACTION"}
    page = parameter(spec, "/v2/device/{id}/activities", "get", "pageSize")
    assert (page["minimum"], page["maximum"], page["default"]) == (
        ACTIVITY_PAGE_MIN,
        ACTIVITY_PAGE_MAX,
        ACTIVITY_PAGE_DEFAULT,
    )


def test_run_as_roles_are_the_specs_spellings(spec: Spec, api: httpx.Client) -> None:
    spelled = set(
        resolve(spec, {"$ref": "#/components/schemas/PolicyConditionScript"})["properties"][
            "runAs"
        ]["enum"]
    )
    for device in api.get("/v2/devices").json():
        roles = api.get(f"/v2/device/{device['id']}/scripting/options").json()["credentials"][
            "roles"
        ]
        assert set(roles) <= spelled


# -- responses ----------------------------------------------------------------------------------


def check_response(
    spec: Spec, response: httpx.Response, extras: frozenset[str] = frozenset()
) -> Any:
    assert response.status_code == 200, response.text
    _, op = operation(spec, response.request.method, response.request.url.path)
    body = response.json()
    errors = validate(spec, body, response_schema(op), extras=extras)
    assert errors == [], f"{response.request.method} {response.request.url.path}: {errors}"
    return body


def test_device_responses_match_the_spec(spec: Spec, api: httpx.Client) -> None:
    devices = check_response(spec, api.get("/v2/devices", params={"pageSize": 3}))
    assert len(devices) == 3
    check_response(spec, api.get("/v2/devices", params={"df": "org = 2", "after": 3}))
    detailed = check_response(spec, api.get("/v2/devices-detailed"), DEVICE_EXTRAS)
    assert len(detailed) == 5
    for device in detailed:
        check_response(spec, api.get(f"/v2/device/{device['id']}"), DEVICE_EXTRAS)


def test_scripting_options_match_the_spec(spec: Spec, api: httpx.Client) -> None:
    offered = 0
    for device in api.get("/v2/devices").json():
        options = check_response(spec, api.get(f"/v2/device/{device['id']}/scripting/options"))
        offered += len(options["scripts"])
    assert offered > 0


def test_alert_responses_match_the_spec(spec: Spec, api: httpx.Client) -> None:
    alerts = check_response(spec, api.get("/v2/alerts"))
    assert len(alerts) == 3
    assert all("device" in a for a in alerts)
    check_response(spec, api.get("/v2/alerts", params={"sourceType": "AGENT_OFFLINE"}))
    check_response(spec, api.get(f"/v2/device/{WINDOWS}/alerts"))


def test_activities_and_jobs_match_the_spec(
    spec: Spec, api: httpx.Client, clock: ManualClock
) -> None:
    for body in RUN_SCRIPT_BODIES:
        assert api.post(f"/v2/device/{WINDOWS}/script/run", json=body).status_code == 204
    assert api.post(f"/v2/device/{SERVER}/reboot/NORMAL", json=REBOOT_BODIES[0]).status_code == 204
    jobs = check_response(spec, api.get(f"/v2/device/{WINDOWS}/jobs"))
    assert len(jobs) == len(RUN_SCRIPT_BODIES)
    clock.advance(10.0)
    activities = check_response(spec, api.get(f"/v2/device/{WINDOWS}/activities"))
    assert len(activities["activities"]) == 2 * len(RUN_SCRIPT_BODIES)
    rebooted = check_response(spec, api.get(f"/v2/device/{SERVER}/activities"))
    assert [a["statusCode"] for a in rebooted["activities"]] == ["SYSTEM_REBOOTED"]
    empty = check_response(
        spec, api.get(f"/v2/device/{SERVER}/activities", params={"newerThan": 99})
    )
    assert empty == {"activities": []}


# -- requests ------------------------------------------------------------------------------------


def test_request_bodies_the_tests_send_match_the_spec(
    spec: Spec, ninja: FakeNinjaOne, api: httpx.Client
) -> None:
    uid = api.get("/v2/alerts").json()[0]["uid"]
    sent = [
        *(api.post(f"/v2/device/{WINDOWS}/script/run", json=b) for b in RUN_SCRIPT_BODIES),
        *(api.post(f"/v2/device/{SERVER}/reboot/FORCED", json=b) for b in REBOOT_BODIES),
        *(api.post(f"/v2/alert/{uid}/reset", json=b) for b in ALERT_RESET_BODIES),
    ]
    assert [r.status_code for r in sent] == [204] * len(sent)
    checked = set()
    for request in ninja.calls("POST", "/v2/*"):
        template, op = operation(spec, request.method, request.path)
        errors = validate(spec, request.body, request_schema(op))
        assert errors == [], f"{request.method} {request.path} {request.body}: {errors}"
        checked.add(template)
    assert checked == {
        "/v2/device/{id}/script/run",
        "/v2/device/{id}/reboot/{mode}",
        "/v2/alert/{uid}/reset",
    }


# -- the validator itself -------------------------------------------------------------------------


def test_the_validator_catches_contract_breaks(spec: Spec, api: httpx.Client) -> None:
    device = api.get(f"/v2/device/{WINDOWS}").json()
    schema = {"$ref": "#/components/schemas/Device"}
    assert validate(spec, device, schema, extras=DEVICE_EXTRAS) == []
    broken = {
        **device,
        "lastContact": "2026-01-01T00:00:00Z",
        "nodeClass": "TOASTER",
        "id": 2**40,
        "uid": "not-a-uuid",
        "offline": "no",
        "hostname": "typo",
        "tags": "front-desk",
    }
    errors = validate(spec, broken, schema, extras=DEVICE_EXTRAS)
    for field in ("lastContact", "nodeClass", "id", "uid", "offline", "tags"):
        assert any(e.startswith(f"$.{field}") for e in errors), (field, errors)
    assert "$: property 'hostname' is not in the schema" in errors
    assert any("'os'" in e for e in validate(spec, device, schema))
    run = {"$ref": "#/components/schemas/RunScriptRequest"}
    assert validate(spec, {"type": "SCRIPT", "id": "7"}, run) == ["$.id: expected integer, got str"]
    assert validate(spec, {"type": "JOB"}, run) == ["$.type: 'JOB' not in enum"]
    assert validate(spec, None, run) == ["$: null"]
    assert validate(spec, [], run) == ["$: expected object, got list"]
