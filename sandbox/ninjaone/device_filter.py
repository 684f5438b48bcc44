"""NinjaOne's device filter (``df``): the subset the fake understands.

Clauses joined with ``AND`` (case-insensitive): ``online``, ``offline``,
``<key> = v``, ``<key> != v``, ``<key> in (v1,v2)``, ``<key> notin (v1,v2)``
with keys ``id``, ``org``, ``loc``, ``role``, ``policy`` (integers) and
``class``, ``status`` (node class, approval status). Anything else is 400
``FAILURE`` "Invalid device filter", so a client that passes free text as
``df`` finds out here rather than in production.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["parse_device_filter"]


class _BadFilter(ValueError):
    pass


_DF_KEYS = {
    "id": ("id", int),
    "org": ("organizationId", int),
    "loc": ("locationId", int),
    "role": ("nodeRoleId", int),
    "policy": ("policyId", int),
    "class": ("nodeClass", str),
    "status": ("approvalStatus", str),
}
_DF_COMPARE = re.compile(r"^(?P<key>[a-z]+)\s*(?P<op>!=|=)\s*(?P<value>[^\s(),]+)$", re.I)
_DF_IN = re.compile(r"^(?P<key>[a-z]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$", re.I)


def parse_device_filter(df: str) -> Callable[[Mapping[str, Any]], bool]:
    """Compile the supported subset of NinjaOne's ``df`` syntax into a predicate.

    Raises ``ValueError`` for anything outside it (see the module docstring).
    """
    predicates: list[Callable[[Mapping[str, Any]], bool]] = []
    for raw in re.split(r"\s+and\s+", df.strip(), flags=re.I):
        clause = raw.strip()
        if clause.lower() in ("online", "offline"):
            predicates.append(_offline_is(clause.lower() == "offline"))
            continue
        compare, member = _DF_COMPARE.match(clause), _DF_IN.match(clause)
        match = compare or member
        if match is None or match["key"].lower() not in _DF_KEYS:
            raise _BadFilter(clause)
        prop, kind = _DF_KEYS[match["key"].lower()]
        raw_values = [match["value"]] if compare else match["values"].split(",")
        try:
            values = {kind(v.strip()) for v in raw_values if v.strip()}
        except ValueError as exc:
            raise _BadFilter(clause) from exc
        if not values:
            raise _BadFilter(clause)
        negate = match["op"].lower() in ("!=", "notin")
        predicates.append(_membership(prop, values, negate))
    return lambda device: all(p(device) for p in predicates)


def _offline_is(offline: bool) -> Callable[[Mapping[str, Any]], bool]:
    return lambda device: bool(device.get("offline")) is offline


def _membership(prop: str, values: set[Any], negate: bool) -> Callable[[Mapping[str, Any]], bool]:
    return lambda device: (device.get(prop) in values) is not negate
