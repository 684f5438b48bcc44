"""Strict input types: an action accepts exactly what its published JSON Schema allows.

``parse_input`` is how the executor validates every input
(``Pipeline.validate_input``): as the JSON it is, in pydantic's strict JSON
mode, so no ``"5"`` for 5, no ``1`` for ``true``, no number for a date-time.
Numbers are read as JSON Schema reads them: one kind of number, so ``5.0`` is
the integer 5 (strict pydantic alone would refuse it for an ``int``). Where
pydantic's own acceptance still differs from the JSON Schema it publishes,
the types here close the gap:

- ``Rfc3339DateTime``: RFC 3339 ``date-time`` with its offset (pydantic also
  takes naive times, a space for the ``T``, dates that are not there).
- ``DateTimeOptionalOffset``: the same, or a local date-time without offset
  (the model decides what places it, e.g. a separate time zone field).
- ``Uuid`` / ``UuidStr``: the hyphenated 8-4-4-4-12 form only (pydantic also
  takes 32 bare hex digits, braces, ``urn:uuid:``).
- ``Matches``: a string pattern checked with the published regex itself.
- ``NotBlank`` and ``StripBlank``: lengths count what was sent, and only then
  is surrounding blank space dropped (pydantic strips before it counts).

Patterns mean the same in ECMA-262 (JSON Schema's dialect) and Python's
``re``: explicit character classes (never ``\\d``, ``\\s`` or ``.``), and
``$(?!\\n)`` to end, since Python's ``$`` also matches before a final newline.
Date-times carry years 0002-9998, so every accepted instant, and the same
instant in UTC, fits Python's ``datetime``; seconds stop at 59 (no leap second).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictInput(BaseModel):
    """Base of action input models: unknown fields refused, no type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True)


# JSON can carry U+0000, but PostgreSQL's jsonb cannot store it, and the ledger
# keeps every step's input: refused up front, not when the claim fails.
NUL_REFUSED = "text may not hold a NUL character (U+0000)"


class InputNotJson(ValueError):
    """The input holds something JSON cannot carry, or the ledger cannot store (a NUL
    character); ``field`` is where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{'input' if field == 'input' else 'input.' + field}: {message}")
        self.field = field


def parse_input(model: type[ModelT], raw: dict[str, Any]) -> ModelT:
    """``raw`` validated as ``model``, exactly as its JSON Schema would judge it.

    Raises pydantic's ValidationError, or InputNotJson for a value no JSON
    document holds (NaN, a Python object, text that is not Unicode) or that
    the ledger cannot store (text holding a NUL character).
    """
    return model.model_validate_json(json_text(raw), strict=True)


def json_text(raw: dict[str, Any]) -> str:
    """``raw`` as JSON text, every integral number written as an integer."""
    return json.dumps(_json_value(raw, "input"), ensure_ascii=False, allow_nan=False)


def _json_value(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        if "\x00" in value:
            raise InputNotJson(where, NUL_REFUSED)
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InputNotJson(where, "text is not valid Unicode (a lone surrogate)") from None
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputNotJson(where, f"{value} is not a JSON number")
        # JSON has one kind of number: to JSON Schema 5.0 is the integer 5.
        return int(value) if value.is_integer() else value
    if isinstance(value, list | tuple):
        return [_json_value(item, _join(where, str(i))) for i, item in enumerate(value)]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise InputNotJson(where, f"object key {key!r} is not a string")
            if "\x00" in key:
                raise InputNotJson(where, f"object key {key!r}: {NUL_REFUSED}")
        return {key: _json_value(item, _join(where, key)) for key, item in value.items()}
    raise InputNotJson(where, f"a {type(value).__name__} is not a JSON value")


def _join(where: str, key: str) -> str:
    return key if where == "input" else f"{where}.{key}"


def anchored(core: str) -> str:
    """``core`` as a whole-string JSON Schema pattern that reads the same in ECMA-262 and Python."""
    return f"^(?:{core})$(?!\\n)"


# -- patterns -----------------------------------------------------------------------

_YEAR = r"000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8]"
_LEAP_YEAR = r"[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00"
_MONTH_DAY = (
    r"(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8])"
)
_DATE = f"(?:{_YEAR})-(?:{_MONTH_DAY})|(?:{_LEAP_YEAR})-02-29"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
_OFFSET = r"[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]"

DATE_TIME_PATTERN = anchored(f"(?:{_DATE})[Tt]{_TIME}(?:{_OFFSET})")
LOCAL_DATE_TIME_PATTERN = anchored(f"(?:{_DATE})[Tt]{_TIME}")
_HEX = "[0-9A-Fa-f]"
UUID_PATTERN = anchored(f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}")
# The whitespace NotBlank and StripBlank know; spelled out so every regex dialect agrees.
BLANK = " \t\n\r\f\v"
NOT_BLANK_PATTERN = r"[^ \t\n\r\f\v]"

DATE_TIME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "pattern": DATE_TIME_PATTERN,
}
UUID_SCHEMA: dict[str, Any] = {"type": "string", "format": "uuid", "pattern": UUID_PATTERN}

_DATE_TIME = re.compile(DATE_TIME_PATTERN)
_LOCAL_DATE_TIME = re.compile(LOCAL_DATE_TIME_PATTERN)
_UUID = re.compile(UUID_PATTERN)


# -- validators ---------------------------------------------------------------------


def _text(value: Any, kind: str, what: str) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError(
            f"{kind}_type", "Input should be a string ({what})", {"what": what}
        )
    return value


def _parse_datetime(value: Any, info: ValidationInfo, *, local_allowed: bool) -> Any:
    what = "an RFC 3339 date-time" + (", or one without offset" if local_allowed else "")
    if isinstance(value, datetime) and info.mode == "python":  # built in code, not sent
        if value.tzinfo is None and not local_allowed:
            raise PydanticCustomError("timezone_aware", "Datetime should have timezone info")
        return value
    text = _text(value, "datetime", what)
    if not (_DATE_TIME.search(text) or (local_allowed and _LOCAL_DATE_TIME.search(text))):
        raise PydanticCustomError(
            "datetime_format",
            "Input should be {what}, e.g. 2026-12-01T09:00:00Z",
            {"what": what},
        )
    # The pattern admits only what fromisoformat reads (RFC 3339 is case-insensitive).
    return datetime.fromisoformat(text.upper())


def _rfc3339(value: Any, info: ValidationInfo) -> Any:
    return _parse_datetime(value, info, local_allowed=False)


def _rfc3339_or_local(value: Any, info: ValidationInfo) -> Any:
    return _parse_datetime(value, info, local_allowed=True)


def _uuid_text(value: Any) -> str:
    text = _text(value, "uuid", "a UUID")
    if not _UUID.search(text):
        raise PydanticCustomError(
            "uuid_format",
            "Input should be a UUID in 8-4-4-4-12 hexadecimal form",
        )
    return text.lower()


def _uuid(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, uuid.UUID) and info.mode == "python":
        return value
    return uuid.UUID(_uuid_text(value))


def _strip_blank(value: str) -> str:
    return value.strip(BLANK)


class Matches:
    """A string pattern, published in the schema and checked with that very regex.

    pydantic's own ``pattern`` runs a different regex engine; checking with the
    published regex keeps the schema and the model on one definition.
    """

    def __init__(self, pattern: str, message: str | None = None) -> None:
        self.pattern = pattern
        self.regex = re.compile(pattern)
        self.message = message

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema

    def _check(self, value: str) -> str:
        if self.regex.search(value):
            return value
        if self.message is not None:
            raise PydanticCustomError("string_pattern_mismatch", self.message)
        raise PydanticCustomError(
            "string_pattern_mismatch",
            "String should match pattern '{pattern}'",
            {"pattern": self.pattern},
        )

    def __repr__(self) -> str:
        return f"Matches({self.pattern!r})"


# -- types --------------------------------------------------------------------------

Rfc3339DateTime = Annotated[
    datetime, BeforeValidator(_rfc3339), WithJsonSchema(DATE_TIME_SCHEMA, mode="validation")
]
"""An aware datetime, sent as an RFC 3339 date-time with its offset."""

DateTimeOptionalOffset = Annotated[
    datetime,
    BeforeValidator(_rfc3339_or_local),
    WithJsonSchema(
        {
            "type": "string",
            "anyOf": [
                {"format": "date-time", "pattern": DATE_TIME_PATTERN},
                {"pattern": LOCAL_DATE_TIME_PATTERN},
            ],
        },
        mode="validation",
    ),
]
"""An RFC 3339 date-time, or a local one without offset (naive; the model places it)."""

Uuid = Annotated[uuid.UUID, BeforeValidator(_uuid), WithJsonSchema(UUID_SCHEMA, mode="validation")]
"""A UUID, sent in its hyphenated 8-4-4-4-12 form (either case)."""

UuidStr = Annotated[
    str, BeforeValidator(_uuid_text), WithJsonSchema(UUID_SCHEMA, mode="validation")
]
"""A UUID kept as text, in canonical (lowercase) form: for ids that go into a vendor's path."""

NotBlank = Matches(NOT_BLANK_PATTERN, "String should have a character other than blank space")
"""A string with something besides spaces, tabs and line breaks in it."""

StripBlank = AfterValidator(_strip_blank)
"""Drop surrounding spaces, tabs and line breaks (after the length checks)."""
