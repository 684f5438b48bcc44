"""What Graph accepts as a ``microsoft.graph.event`` body (POST and PATCH), with Graph's codes.

- a property ``microsoft.graph.event`` does not have: 400 ``RequestBodyRead``
  "The property '<p>' does not exist on type 'microsoft.graph.event'...";
  wrong JSON type (``subject`` a number, ``body`` a string, a boolean that
  is null...) or an unknown enum value (``showAs``, ``importance``,
  ``sensitivity``, ``body.contentType``, attendee ``type``,
  ``onlineMeetingProvider``; case-insensitive): 400 ``RequestBodyRead``;
- ``start``/``end`` ``timeZone`` missing, empty or unknown: 400
  ``TimeZoneNotSupportedException`` "A valid TimeZone value must be
  specified. The following TimeZone value is not supported: '<tz>'." (the
  zones: :mod:`sandbox.microsoft.dates`);
- ``dateTime`` missing or not ISO 8601: 400 ``ErrorPropertyValidationFailure``
  "At least one property failed validation." A ``dateTime`` with an offset
  (``...Z``, ``+02:00``) is taken at that offset.

Read-only properties sent by a client are ignored *(choice)*; so are
navigation properties and extensions (checked to be arrays, not kept).
Whether ``start``/``end`` are required and ordered is the calendar's
business (:mod:`sandbox.microsoft.calendars`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sandbox.microsoft.dates import NEVER, bad_zone, parse_local, zone_named

__all__ = ["BodyError", "date_time_zone", "validate_fields"]

_ENUMS: Mapping[str, tuple[str, ...]] = {
    "freeBusyStatus": ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown"),
    "importance": ("low", "normal", "high"),
    "sensitivity": ("normal", "personal", "private", "confidential"),
    "onlineMeetingProviderType": (
        "unknown",
        "teamsForBusiness",
        "skypeForBusiness",
        "skypeForConsumer",
    ),
    "bodyType": ("text", "html"),
    "attendeeType": ("required", "optional", "resource"),
}
# Event properties whose values are Graph enums, and the enum type of each.
_PROPERTY_ENUMS = {
    "showAs": "freeBusyStatus",
    "importance": "importance",
    "sensitivity": "sensitivity",
    "onlineMeetingProvider": "onlineMeetingProviderType",
}
_BOOLEANS = (
    "isAllDay",
    "isReminderOn",
    "isOnlineMeeting",
    "allowNewTimeProposals",
    "responseRequested",
    "hideAttendees",
)
# Navigation properties and open-extension payloads a client may send; accepted, not kept.
_IGNORED_WRITABLE = (
    "attachments",
    "extensions",
    "singleValueExtendedProperties",
    "multiValueExtendedProperties",
)
_READ_ONLY = (
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "iCalUId",
    "uid",
    "webLink",
    "bodyPreview",
    "hasAttachments",
    "isOrganizer",
    "isDraft",
    "isCancelled",
    "onlineMeeting",
    "onlineMeetingUrl",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "originalStart",
    "responseStatus",
    "seriesMasterId",
    "type",
    "occurrenceId",
    "calendar",
    "instances",
)
_EVENT_PROPERTIES = frozenset(
    {
        "subject",
        "body",
        "start",
        "end",
        "location",
        "locations",
        "attendees",
        "categories",
        "showAs",
        "importance",
        "sensitivity",
        "onlineMeetingProvider",
        "reminderMinutesBeforeStart",
        "recurrence",
        "transactionId",
        "organizer",
        *_BOOLEANS,
        *_IGNORED_WRITABLE,
        *_READ_ONLY,
    }
)


class BodyError(Exception):
    """A request body Graph would refuse: ``status``, ``code`` and ``message`` of the answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _read_error(message: str) -> BodyError:
    return BodyError(400, "RequestBodyRead", message)


def _node(value: Any) -> str:
    if isinstance(value, dict):
        return "StartObject"
    if isinstance(value, list):
        return "StartArray"
    return "PrimitiveValue"


def _want_string(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        raise _read_error(
            f"An unexpected '{_node(value)}' node was found for property named '{name}' when "
            "reading from the JSON reader. A 'PrimitiveValue' node was expected."
        )
    raise _read_error(
        "Cannot convert a primitive value to the expected type 'Edm.String'. "
        "See the inner exception for more details."
    )


def _want_primitive(name: str, value: Any, kind: type, edm: str) -> Any:
    if value is None:
        raise _read_error(
            f"A null value was found for the property named '{name}', which has the expected "
            f"type '{edm}[Nullable=False]'. The expected type '{edm}[Nullable=False]' does not "
            "allow null values."
        )
    if isinstance(value, dict | list):
        raise _read_error(
            f"An unexpected '{_node(value)}' node was found for property named '{name}' when "
            "reading from the JSON reader. A 'PrimitiveValue' node was expected."
        )
    if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
        raise _read_error(
            f"Cannot convert a primitive value to the expected type '{edm}'. "
            "See the inner exception for more details."
        )
    return value


def _want_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _read_error(
            f"An unexpected '{_node(value)}' node was found when reading from the JSON reader. "
            "A 'StartObject' node was expected."
        )
    return value


def _want_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _read_error(
            f"An unexpected '{_node(value)}' node was found when reading from the JSON reader. "
            "A 'StartArray' node was expected."
        )
    return value


def _want_enum(kind: str, name: str, value: Any) -> str:
    text: str = _want_primitive(name, value, str, f"microsoft.graph.{kind}")
    for option in _ENUMS[kind]:
        if option.lower() == text.lower():
            return option
    raise _read_error(f"Requested value '{text}' was not found.")


def _only_keys(value: dict[str, Any], keys: Iterable[str], type_name: str) -> None:
    allowed = set(keys)
    for key in value:
        if key not in allowed and not key.startswith("@odata."):
            raise _read_error(
                f"The property '{key}' does not exist on type 'microsoft.graph.{type_name}'. Make "
                "sure to only use property names that are defined by the type or mark the type "
                "as open type."
            )


def _email_address(value: Any) -> dict[str, Any]:
    address = _want_object(value)
    _only_keys(address, ("address", "name"), "emailAddress")
    return {
        "name": _want_string("name", address.get("name")) or "",
        "address": _want_string("address", address.get("address")) or "",
    }


def _location(value: Any) -> dict[str, Any]:
    loc = _want_object(value)
    _only_keys(
        loc,
        (
            "displayName",
            "locationType",
            "locationEmailAddress",
            "locationUri",
            "uniqueId",
            "uniqueIdType",
            "address",
            "coordinates",
        ),
        "location",
    )
    display = _want_string("displayName", loc.get("displayName")) or ""
    for key in ("locationType", "locationEmailAddress", "locationUri", "uniqueId", "uniqueIdType"):
        _want_string(key, loc.get(key))
    for key in ("address", "coordinates"):
        if loc.get(key) is not None:
            _want_object(loc[key])
    view: dict[str, Any] = {
        "displayName": display,
        "locationType": loc.get("locationType") or "default",
        "uniqueIdType": loc.get("uniqueIdType") or ("private" if display else "unknown"),
    }
    if display:
        view["uniqueId"] = loc.get("uniqueId") or display
    for key in ("locationEmailAddress", "locationUri", "address", "coordinates"):
        if loc.get(key) is not None:
            view[key] = loc[key]
    return view


def _attendee(value: Any) -> dict[str, Any]:
    att = _want_object(value)
    _only_keys(att, ("emailAddress", "type", "status", "proposedNewTime"), "attendee")
    if att.get("emailAddress") is None:
        raise BodyError(
            400, "ErrorPropertyValidationFailure", "At least one property failed validation."
        )
    kind = att.get("type")
    return {
        "type": "required" if kind is None else _want_enum("attendeeType", "type", kind),
        "status": {"response": "none", "time": NEVER},
        "emailAddress": _email_address(att["emailAddress"]),
    }


def date_time_zone(value: Any) -> tuple[datetime, str]:
    """An aware start/end and the zone name it was given in, or a BodyError."""
    dtz = _want_object(value)
    _only_keys(dtz, ("dateTime", "timeZone"), "dateTimeTimeZone")
    zone_name = _want_string("timeZone", dtz.get("timeZone")) or ""
    zone = zone_named(zone_name)
    if zone is None:
        raise BodyError(400, *bad_zone(zone_name))
    raw = _want_string("dateTime", dtz.get("dateTime"))
    moment = parse_local(raw, zone) if raw else None
    if moment is None:
        raise BodyError(
            400, "ErrorPropertyValidationFailure", "At least one property failed validation."
        )
    return moment, zone_name


def validate_fields(body: dict[str, Any]) -> dict[str, Any]:
    """Check every property of an event body; return the writable ones, normalized.

    ``start``/``end`` are checked (and returned) by :func:`date_time_zone`, not here.
    """
    _only_keys(body, _EVENT_PROPERTIES, "event")
    fields: dict[str, Any] = {}
    for name, value in body.items():
        if name.startswith("@odata.") or name in _READ_ONLY or name in ("start", "end"):
            continue
        if name in _IGNORED_WRITABLE:
            _want_list(value)
        elif name in ("subject", "transactionId"):
            fields[name] = _want_string(name, value)
        elif name in _BOOLEANS:
            fields[name] = _want_primitive(name, value, bool, "Edm.Boolean")
        elif name == "reminderMinutesBeforeStart":
            fields[name] = _want_primitive(name, value, int, "Edm.Int32")
        elif name in _PROPERTY_ENUMS:
            fields[name] = _want_enum(_PROPERTY_ENUMS[name], name, value)
        elif name == "body":
            fields[name] = _item_body(value)
        elif name == "location":
            fields[name] = None if value is None else _location(value)
        elif name == "locations":
            fields[name] = [_location(v) for v in _want_list(value)]
        elif name == "attendees":
            fields[name] = [_attendee(v) for v in _want_list(value)]
        elif name == "categories":
            fields[name] = [_want_string("categories", v) or "" for v in _want_list(value)]
        elif name == "recurrence":
            fields[name] = None if value is None else _want_object(value)
        elif name == "organizer":
            organizer = _want_object(value)
            _only_keys(organizer, ("emailAddress",), "recipient")
            fields[name] = {"emailAddress": _email_address(organizer.get("emailAddress", {}))}
    return fields


def _item_body(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    body = _want_object(value)
    _only_keys(body, ("contentType", "content"), "itemBody")
    kind = body.get("contentType")
    return {
        "contentType": "text" if kind is None else _want_enum("bodyType", "contentType", kind),
        "content": _want_string("content", body.get("content")) or "",
    }
