"""Contract: every route FakeTacticalRmm serves is in the vendor's generated OpenAPI spec.

Reads ``shared/vendor-specs/tacticalrmm-openapi-generated.yaml`` beside the
repository and skips, saying why, when it is absent. The generated spec
declares paths, methods and auth, not bodies, so only those are checked.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.tacticalrmm import FakeTacticalRmm

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC = REPO_ROOT.parent / "shared" / "vendor-specs" / "tacticalrmm-openapi-generated.yaml"
HTTP_METHODS = frozenset({"get", "put", "post", "patch", "delete", "head", "options"})


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC.is_file():
        pytest.skip(
            f"Tactical RMM vendor spec not found at {SPEC}: the contract test needs the "
            "shared/vendor-specs folder beside the repository"
        )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = yaml.load(f, Loader=loader)  # noqa: S506 (a safe loader)
    return loaded


def normalize(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", template)


def test_every_route_of_the_fake_is_in_the_spec(spec: dict[str, Any]) -> None:
    served = {(method, normalize(path)) for method, path in FakeTacticalRmm().routes}
    in_spec = {
        (method.upper(), normalize(template))
        for template, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert len(served) >= 10
    assert served - in_spec == set()


def test_the_spec_names_the_api_key_header_the_fake_reads(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["API Key Auth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-KEY")


def test_string_id_routes_take_the_specs_agent_id_pattern(spec: dict[str, Any]) -> None:
    from sandbox.tacticalrmm import AGENT_ID_PATTERN

    string_routes = [p for _, p in FakeTacticalRmm().routes if "{agent_id}" in p]
    assert string_routes
    for path in string_routes:
        item = spec["paths"][path]
        op = next(op for method, op in item.items() if method in HTTP_METHODS)
        (param,) = [p for p in op["parameters"] if p["name"] == "agent_id"]
        assert param["schema"]["pattern"] == AGENT_ID_PATTERN.pattern
    beta = spec["paths"]["/beta/v1/agent/{id}/"]["get"]["parameters"]
    assert [p["schema"]["type"] for p in beta if p["name"] == "id"] == ["integer"]
