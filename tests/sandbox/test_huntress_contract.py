"""Contract: FakeHuntress against Huntress's own spec (the OpenAPI 3 conversion).

Reads ``shared/vendor-specs/oas3/huntress.json`` (and, for the security
scheme, the Swagger 2.0 original) beside the repository and skips, saying
why, when they are absent. Checks that every route the fake serves is a
spec operation with integer path ids; that the query parameters each list
takes are the spec's (names, types, enums, defaults, bounds); that the
rejection bodies the behaviour tests send validate against the spec's
request schema; that every JSON answer of every route validates against
the spec's response schema for its status; that every status the fake
answers is declared for the operation or in the spec's table of response
codes, with the spec's messages; and the auth and rate-limit facts.

Validation uses ``jsonschema`` (Draft 4, which OpenAPI 3.0 schemas follow)
on the spec's schemas after a small, explicit patch layer for what the
Swagger 2.0 source cannot say or says wrongly (see :func:`patched`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft4Validator, FormatChecker

from sandbox.core import ManualClock
from sandbox.huntress import (
    AGENT_PARAMS,
    FORBIDDEN,
    INCIDENT_PARAMS,
    LIMIT_DEFAULT,
    ORGANIZATION_PARAMS,
    RATE_LIMIT,
    RATE_WINDOW,
    REJECTION_FIELDS,
    REMEDIATION_PARAMS,
    FakeHuntress,
    Param,
)
from tests.sandbox.test_huntress_fake import REJECTION

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECS_DIR = REPO_ROOT.parent / "shared" / "vendor-specs"
SPEC = SPECS_DIR / "oas3" / "huntress.json"
ORIGINAL = SPECS_DIR / "huntress-rest-openapi.json"
HTTP_METHODS = frozenset({"get", "put", "post", "patch", "delete"})
LIST_PARAMS: dict[str, tuple[Param, ...]] = {
    "/v1/organizations": ORGANIZATION_PARAMS,
    "/v1/agents": AGENT_PARAMS,
    "/v1/incident_reports": INCIDENT_PARAMS,
    "/v1/incident_reports/{incident_report_id}/remediations": REMEDIATION_PARAMS,
}
INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}

Spec = dict[str, Any]


def _load(path: Path) -> Spec:
    if not path.is_file():
        pytest.skip(
            f"Huntress vendor spec not found at {path}: the contract test needs the "
            "shared/vendor-specs folder beside the repository"
        )
    loaded: Spec = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def spec() -> Spec:
    return _load(SPEC)


@pytest.fixture(scope="module")
def original() -> Spec:
    return _load(ORIGINAL)


# -- the patch layer and the validator ---------------------------------------------------


def patched(spec: Spec) -> dict[str, Any]:
    """The spec's component schemas, patched where the source cannot be taken literally.

    - ``required`` names absent from ``properties`` are dropped (the
      ``Organization`` bug vendor-specs.md records).
    - Null is allowed where Swagger 2.0 (no ``nullable``) could not say it:
      timestamps (``format: date-time``: ``closed_at`` "Null if
      non-applicable"), referenced objects (an unset address, no approver),
      and properties whose description mentions null (``edr_version``,
      ``tamper_protection_*``).
    - ``IncidentReport.remediations`` (``type: object`` and an example only)
      gets the shape its description and example give: ``{total_count,
      has_more, items: [Remediation]}``.
    - Objects with properties forbid others, so a misspelt field fails.
    """
    schemas: dict[str, Any] = copy.deepcopy(spec["components"]["schemas"])
    schemas["IncidentReport"]["properties"]["remediations"] = {
        "type": "object",
        "properties": {
            "total_count": {"type": "integer"},
            "has_more": {"type": "boolean"},
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Remediation"}},
        },
        "required": ["total_count", "has_more", "items"],
    }
    for schema in schemas.values():
        _patch_object(schema)
    return schemas


def _patch_object(schema: dict[str, Any]) -> None:
    properties: dict[str, Any] | None = schema.get("properties")
    if not properties:
        return
    if "required" in schema:
        schema["required"] = [n for n in schema["required"] if n in properties]
        if not schema["required"]:
            del schema["required"]
    schema.setdefault("additionalProperties", False)
    for name, prop in list(properties.items()):
        _patch_object(prop)
        if "items" in prop:
            _patch_object(prop["items"])
        nullable = (
            prop.get("format") == "date-time"
            or "$ref" in prop
            or "null" in str(prop.get("description", "")).lower()
        )
        if nullable:
            properties[name] = {"anyOf": [prop, {"type": "null"}]}


def format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def is_datetime(value: object) -> bool:
        if not isinstance(value, str):
            return True
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return bool(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", value))

    for name, (low, high) in INT_RANGES.items():

        @checker.checks(name)
        def in_range(value: object, low: int = low, high: int = high) -> bool:
            return not isinstance(value, int) or low <= value <= high

    return checker


def problems(spec: Spec, value: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every way ``value`` breaks ``schema`` (a schema of the spec, refs into its components)."""
    root = {**schema, "components": {"schemas": patched(spec)}}
    validator = Draft4Validator(root, format_checker=format_checker())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(value)]


# -- the spec's operations ---------------------------------------------------------------


def normalize(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", template)


def operation(spec: Spec, method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The spec's ``(template, operation)`` serving a concrete request path."""
    matches = []
    for template, item in spec["paths"].items():
        parts = re.split(r"\{[^}]+\}", template)
        regex = "^" + "[^/]+".join(re.escape(p) for p in parts) + "$"
        if method.lower() in item and re.match(regex, path):
            matches.append((template, item[method.lower()]))
    matches.sort(key=lambda m: m[0].count("{"))  # bulk_approval beats {remediation_id}
    assert matches, f"{method} {path} is not in the spec"
    return matches[0]


def documented_statuses(spec: Spec) -> set[int]:
    """The statuses of the "HTTP Response Codes" table in ``info.description``."""
    return {int(code) for code in re.findall(r"<td>(\d{3})</td>", spec["info"]["description"])}


# -- the fake ---------------------------------------------------------------------------------


@pytest.fixture
def fake() -> FakeHuntress:
    return FakeHuntress(clock=ManualClock(), rate_limit=None)


@pytest.fixture
def seed(fake: FakeHuntress) -> dict[str, Any]:
    return fake.seed_demo()


@pytest.fixture
def api(fake: FakeHuntress, seed: dict[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=fake.transport(),
        base_url="http://huntress.test",
        auth=(seed["api_key"], seed["api_secret"]),
    ) as client:
        yield client


# -- routes and parameters ------------------------------------------------------------------------


def test_every_route_of_the_fake_is_in_the_spec_with_integer_ids(spec: Spec) -> None:
    routes = FakeHuntress().routes
    served = {(method, normalize(path)) for method, path in routes}
    in_spec = {
        (method.upper(), normalize(template))
        for template, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert len(served) == 12
    assert served - in_spec == set()
    for method, path in routes:
        assert path in spec["paths"], path  # the spec's own parameter names
        op = spec["paths"][path][method.lower()]
        for name in re.findall(r"\{([^}]+)\}", path):
            (param,) = [p for p in op.get("parameters", ()) if p["name"] == name]
            assert (param["in"], param["schema"]["type"]) == ("path", "integer")


@pytest.mark.parametrize("path", sorted(LIST_PARAMS))
def test_each_list_takes_the_specs_query_parameters(spec: Spec, path: str) -> None:
    declared = {
        p["name"]: p for p in spec["paths"][path]["get"]["parameters"] if p["in"] == "query"
    }
    fake_params = {p.name: p for p in LIST_PARAMS[path]}
    assert set(fake_params) == set(declared)
    for name, param in fake_params.items():
        schema = declared[name]["schema"]
        assert param.kind == schema["type"], name
        values = schema.get("enum") or schema.get("items", {}).get("enum")
        assert param.values == (tuple(values) if values else None), name
        assert param.default == schema.get("default"), name
        assert param.minimum == schema.get("minimum"), name
        assert param.maximum == schema.get("maximum"), name
    assert fake_params["limit"].default == LIMIT_DEFAULT


def test_the_rejection_body_is_the_specs(spec: Spec) -> None:
    schema = spec["components"]["schemas"]["RemediationBulkRejectionParameters"]
    assert set(REJECTION_FIELDS) == set(schema["properties"])
    assert sorted(schema["required"]) == ["comment", "useful"]
    op = spec["paths"]["/v1/incident_reports/{incident_report_id}/remediations/bulk_rejection"]
    body = spec["components"]["requestBodies"]["RemediationBulkRejectionParameters"]
    assert op["post"]["requestBody"]["$ref"].endswith("/RemediationBulkRejectionParameters")
    assert body["required"] is True
    sent = [REJECTION, {**REJECTION, "name": "Sam", "email": "sam@msp.test"}]
    for example in sent:
        assert problems(spec, example, schema) == []
    assert problems(spec, {"comment": "x"}, schema)  # useful is required


def test_resolution_and_approval_take_no_body(spec: Spec) -> None:
    for path in (
        "/v1/incident_reports/{id}/resolution",
        "/v1/incident_reports/{incident_report_id}/remediations/bulk_approval",
    ):
        assert "requestBody" not in spec["paths"][path]["post"]


# -- answers ---------------------------------------------------------------------------------------


def check(spec: Spec, answer: httpx.Response) -> dict[str, Any]:
    """Validate a JSON answer against its operation's schema for that status; return it."""
    request = answer.request
    _, op = operation(spec, request.method, request.url.path)
    declared = op["responses"].get(str(answer.status_code))
    assert declared is not None, f"{request.method} {request.url.path} -> {answer.status_code}"
    schema = declared["content"]["application/json"]["schema"]
    body: dict[str, Any] = answer.json()
    assert set(body) == set(schema["properties"])
    assert problems(spec, body, schema) == []
    return body


def test_every_json_answer_validates_against_the_spec(
    spec: Spec, api: httpx.Client, fake: FakeHuntress, seed: dict[str, Any]
) -> None:
    check(spec, api.get("/v1/account"))
    for params in ({"limit": 2}, {"limit": 500}):
        for path in ("/v1/organizations", "/v1/agents", "/v1/incident_reports"):
            body = check(spec, api.get(path, params=params))
            assert bool(body["pagination"]) == (params["limit"] == 2)
    for org_id in seed["organization_ids"]:
        check(spec, api.get(f"/v1/organizations/{org_id}"))
    for agent_id in seed["agent_ids"]:
        check(spec, api.get(f"/v1/agents/{agent_id}"))
    for incident_id in seed["incident_report_ids"]:
        report = check(spec, api.get(f"/v1/incident_reports/{incident_id}"))
        remediations = check(
            spec, api.get(f"/v1/incident_reports/{incident_id}/remediations", params={"limit": 3})
        )
        for item in remediations["remediations"]:
            path = f"/v1/incident_reports/{incident_id}/remediations/{item['id']}"
            check(spec, api.get(path))
        assert report["incident_report"]["remediations"]["total_count"] >= len(
            remediations["remediations"]
        )
    pending, resolvable = seed["pending_incident_id"], seed["resolvable_incident_id"]
    approval = api.post(f"/v1/incident_reports/{pending}/remediations/bulk_approval")
    assert approval.status_code == 201
    check(spec, approval)
    resolution = api.post(f"/v1/incident_reports/{resolvable}/resolution")
    assert resolution.status_code == 201
    check(spec, resolution)
    fake.add_remediation(pending, action="Reset the user's password")
    rejection = api.post(
        f"/v1/incident_reports/{pending}/remediations/bulk_rejection", json=REJECTION
    )
    assert rejection.status_code == 201
    _, op = operation(spec, "POST", rejection.request.url.path)
    assert "content" not in op["responses"]["201"]
    assert rejection.content == b""


def test_values_the_spec_enumerates_only_in_prose_are_from_its_enums(
    spec: Spec, api: httpx.Client
) -> None:
    def enum(path: str, name: str) -> set[str]:
        (param,) = [p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name]
        schema = param["schema"]
        return set(schema.get("enum") or schema["items"]["enum"])

    reports = api.get("/v1/incident_reports", params={"limit": 500}).json()["incident_reports"]
    assert {r["status"] for r in reports} == enum("/v1/incident_reports", "status")
    assert {r["severity"] for r in reports} <= enum("/v1/incident_reports", "severity")
    assert {r["platform"] for r in reports} <= enum("/v1/incident_reports", "platform")
    indicators = enum("/v1/incident_reports", "indicator_type")
    for r in reports:
        assert set(r["indicator_types"]) <= indicators
        assert set(r["indicator_counts"]) <= indicators
    remediation_path = "/v1/incident_reports/{incident_report_id}/remediations"
    items = [i for r in reports for i in r["remediations"]["items"]]
    assert {i["type"] for i in items} == enum(remediation_path, "types[]")
    assert {i["status"] for i in items} <= enum(remediation_path, "statuses[]")
    agents = api.get("/v1/agents", params={"limit": 500}).json()["agents"]
    assert {a["platform"] for a in agents} == enum("/v1/agents", "platform")


def test_every_status_the_fake_answers_is_the_specs_with_its_messages(
    spec: Spec, fake: FakeHuntress, seed: dict[str, Any]
) -> None:
    table = documented_statuses(spec)
    assert {400, 401, 404, 429, 500} <= table
    user = (seed["api_key"], seed["api_secret"])
    read_only = (seed["read_only_api_key"], seed["read_only_api_secret"])
    pending, unsent = seed["pending_incident_id"], seed["unsent_incident_id"]
    remediations = f"/v1/incident_reports/{pending}/remediations"
    cases: list[tuple[tuple[str, str] | None, str, str, Any, int]] = [
        (None, "GET", "/v1/account", None, 401),
        (user, "GET", "/v1/incident_reports?status=resolved", None, 400),
        (user, "GET", "/v1/agents/999999", None, 404),
        (read_only, "POST", f"/v1/incident_reports/{pending}/resolution", None, 403),
        (user, "POST", f"/v1/incident_reports/{pending}/resolution", None, 409),
        (user, "POST", f"/v1/incident_reports/{unsent}/resolution", None, 422),
        (user, "POST", "/v1/incident_reports/999999/resolution", None, 404),
        (read_only, "POST", f"{remediations}/bulk_approval", None, 403),
        (user, "POST", f"/v1/incident_reports/{unsent}/remediations/bulk_approval", None, 409),
        (read_only, "POST", f"{remediations}/bulk_rejection", REJECTION, 403),
        (user, "POST", f"{remediations}/bulk_rejection", {}, 400),
        (
            user,
            "POST",
            f"/v1/incident_reports/{unsent}/remediations/bulk_rejection",
            REJECTION,
            409,
        ),
    ]
    with httpx.Client(transport=fake.transport(), base_url="http://huntress.test") as client:
        for auth, method, path, body, status in cases:
            answer = client.request(method, path, json=body, auth=auth)
            assert answer.status_code == status, (method, path, answer.text)
            _, op = operation(spec, method, answer.request.url.path)
            declared = op["responses"].get(str(status))
            assert declared is not None or status in table, (method, path, status)
            message = answer.json()["error"]
            if status in (403, 409, 422):
                assert message == declared["description"], (method, path)
        fake.reset()  # the cases above are in the window
        fake.configure_rate_limit(limit=1)
        assert client.get("/v1/account", auth=user).status_code == 200
        assert client.get("/v1/account", auth=user).status_code == 429
    assert spec["paths"]["/v1/account"]["get"]["responses"]["403"]["description"] == FORBIDDEN


# -- auth and the rate limit ---------------------------------------------------------------


def test_auth_is_http_basic_with_key_and_secret(original: Spec, spec: Spec) -> None:
    scheme = original["securityDefinitions"]["basic_auth"]
    assert scheme["type"] == "basic"
    description = spec["info"]["description"]
    assert "Authorization: Basic [Base64Encode(&lt;your_api_key&gt;:" in description


def test_the_rate_limit_is_the_specs(spec: Spec) -> None:
    text = spec["info"]["description"]
    found = re.search(r"rate limited to (\d+) requests per minute, on a sliding window", text)
    assert found is not None
    assert (int(found[1]), 60.0) == (RATE_LIMIT, RATE_WINDOW)
    assert "Retry-After" not in text  # so the fake sends none by default
    fake = FakeHuntress()
    assert (fake.limiter.limit, fake.limiter.window, fake.retry_after) == (60, 60.0, False)
