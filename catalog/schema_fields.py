"""An action's JSON Schema as a flat list of fields a person can read.

``patchbay schemas --action`` prints these rows, and the description law
(tests/integrations/test_descriptions.py) checks every one of them has a
real description. The schemas are pydantic's (``ActionSpec.json_schemas``):
``$ref`` into ``$defs``, ``anyOf`` with ``{"type": "null"}`` for optional
values, ``enum`` for literals. Nested objects are flattened as ``a.b``,
arrays of objects as ``items[].b``; cross-field rules (``if``/``then``,
a top-level ``anyOf``) are not fields and stay in the descriptions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# An enum longer than this is summarised (the time zone list has ~600 names).
MAX_ENUM_SHOWN = 8


@dataclass(frozen=True)
class SchemaField:
    """One field: where it is, what it takes, whether it must be there, what it means."""

    path: str
    type: str
    required: bool
    default: str | None
    description: str


def schema_fields(schema: dict[str, Any]) -> list[SchemaField]:
    """Every field of an object schema, depth first, in declaration order."""
    return list(_fields(schema, schema.get("$defs", {}), ""))


def _fields(schema: dict[str, Any], defs: dict[str, Any], prefix: str) -> list[SchemaField]:
    rows: list[SchemaField] = []
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        rows.append(
            SchemaField(
                path=path,
                type=type_text(prop, defs),
                required=name in required,
                default=json.dumps(prop["default"]) if "default" in prop else None,
                description=description_of(prop, defs),
            )
        )
        nested, suffix = _nested_object(prop, defs)
        if nested is not None:
            rows.extend(_fields(nested, defs, f"{path}{suffix}."))
    return rows


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    target: dict[str, Any] = defs[ref.removeprefix("#/$defs/")]
    return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}


def _branches(schema: dict[str, Any], defs: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The non-null alternatives of an ``anyOf``/``oneOf``, and whether null is allowed."""
    options = schema.get("anyOf") or schema.get("oneOf") or []
    branches = [_resolve(o, defs) for o in options if o.get("type") != "null"]
    nullable = len(branches) < len(options) or schema.get("type") == "null"
    return branches, nullable


def _nested_object(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The object schema whose fields continue under ``prop`` (``[]`` for array items)."""
    prop = _resolve(prop, defs)
    branches, _ = _branches(prop, defs)
    if len(branches) == 1 and "type" not in prop:
        prop = branches[0]
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
        items = _resolve(prop["items"], defs)
        return (items, "[]") if items.get("properties") else (None, "")
    return (prop, "") if prop.get("properties") else (None, "")


def description_of(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """The field's own description, else its type's (a ``$ref``'d model's docstring)."""
    if prop.get("description"):
        return " ".join(str(prop["description"]).split())
    resolved = _resolve(prop, defs)
    candidates = [resolved, *_branches(resolved, defs)[0]]
    for candidate in candidates:
        if candidate.get("description"):
            return " ".join(str(candidate["description"]).split())
    return ""


def type_text(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short type: ``integer 1..200``, ``string (uuid)``, ``"A" | "B"``, ``… or null``."""
    prop = _resolve(prop, defs)
    branches, nullable = _branches(prop, defs)
    if branches:
        base = {k: v for k, v in prop.items() if k not in ("anyOf", "oneOf")}
        texts = list(dict.fromkeys(_one_type({**base, **b}, defs) for b in branches))
        text = " | ".join(texts)
    else:
        text = _one_type(prop, defs)
    return f"{text} or null" if nullable else text


def _one_type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "const" in schema:
        return json.dumps(schema["const"])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " | ".join(str(k) for k in kind)
    if "enum" in schema:
        values = schema["enum"]
        if len(values) <= MAX_ENUM_SHOWN:
            return " | ".join(json.dumps(v) for v in values)
        return f"{kind}, one of {len(values)} values (see --json)"
    if kind == "array":
        items = schema.get("items")
        text = "array" if not isinstance(items, dict) else f"array of {type_text(items, defs)}"
        return _with(text, _bounds(schema, "minItems", "maxItems", " items"), schema, "uniqueItems")
    text = f"{kind} ({schema['format']})" if schema.get("format") else str(kind)
    if kind == "string":
        bounds = _bounds(schema, "minLength", "maxLength", " chars")
    elif kind in ("integer", "number"):
        bounds = _number_bounds(schema, integer=kind == "integer")
    else:
        bounds = ""
    return f"{text} {bounds}" if bounds else text


def _with(text: str, bounds: str, schema: dict[str, Any], flag: str) -> str:
    extra = [b for b in (bounds, "unique" if schema.get(flag) else "") if b]
    return ", ".join([text, *extra])


def _bounds(schema: dict[str, Any], low: str, high: str, unit: str) -> str:
    lo, hi = schema.get(low), schema.get(high)
    if lo is not None and hi is not None:
        return f"{lo}..{hi}{unit}"
    if lo is not None:
        return f">= {lo}{unit}" if lo else ""
    return f"<= {hi}{unit}" if hi is not None else ""


def _number_bounds(schema: dict[str, Any], *, integer: bool) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    # An integer above 0 is an integer from 1: say it the short way.
    if integer and low is None and isinstance(schema.get("exclusiveMinimum"), int):
        low = schema["exclusiveMinimum"] + 1
    if integer and high is None and isinstance(schema.get("exclusiveMaximum"), int):
        high = schema["exclusiveMaximum"] - 1
    if low is not None and high is not None:
        return f"{low}..{high}"
    parts = []
    if low is not None:
        parts.append(f">= {low}")
    elif "exclusiveMinimum" in schema:
        parts.append(f"> {schema['exclusiveMinimum']}")
    if high is not None:
        parts.append(f"<= {high}")
    elif "exclusiveMaximum" in schema:
        parts.append(f"< {schema['exclusiveMaximum']}")
    return ", ".join(parts)
