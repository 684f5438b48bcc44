"""Graph's date-time forms and the time zones the fake understands.

Zones: IANA names (from the system tz database), ``UTC`` and the common
Windows names (``Pacific Standard Time``, ``W. Europe Standard Time``, ...;
see :data:`WINDOWS_TIME_ZONES`). Graph writes date-times with a 7-digit
fraction and no offset (``2025-01-06T09:00:00.0000000``) next to a zone name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "NEVER",
    "WINDOWS_TIME_ZONES",
    "bad_zone",
    "iso7",
    "parse_local",
    "utc_stamp",
    "zone_named",
]

NEVER = "0001-01-01T00:00:00Z"
"""Graph's "no time" (e.g. an attendee's response time before any response)."""

WINDOWS_TIME_ZONES: Mapping[str, str] = {
    "Dateline Standard Time": "Etc/GMT+12",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time": "America/Los_Angeles",
    "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time": "America/Denver",
    "Central Standard Time": "America/Chicago",
    "Canada Central Standard Time": "America/Regina",
    "Eastern Standard Time": "America/New_York",
    "SA Pacific Standard Time": "America/Bogota",
    "Atlantic Standard Time": "America/Halifax",
    "Newfoundland Standard Time": "America/St_Johns",
    "E. South America Standard Time": "America/Sao_Paulo",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "Romance Standard Time": "Europe/Paris",
    "GTB Standard Time": "Europe/Bucharest",
    "FLE Standard Time": "Europe/Kiev",
    "South Africa Standard Time": "Africa/Johannesburg",
    "Israel Standard Time": "Asia/Jerusalem",
    "Russian Standard Time": "Europe/Moscow",
    "Arabian Standard Time": "Asia/Dubai",
    "India Standard Time": "Asia/Kolkata",
    "SE Asia Standard Time": "Asia/Bangkok",
    "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "W. Australia Standard Time": "Australia/Perth",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "E. Australia Standard Time": "Australia/Brisbane",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "New Zealand Standard Time": "Pacific/Auckland",
}
"""Windows time-zone names the fake understands, and the IANA zone each stands for."""

_WINDOWS_LOWER = {name.lower(): iana for name, iana in WINDOWS_TIME_ZONES.items()}


def iso7(moment: datetime) -> str:
    """Graph's 7-digit-fraction form, without an offset: ``2025-01-06T09:00:00.0000000``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def utc_stamp(epoch: float) -> str:
    """Epoch seconds as Graph's UTC stamp: ``2025-01-06T09:00:00.0000000Z``."""
    return iso7(datetime.fromtimestamp(epoch, UTC)) + "Z"


@functools.lru_cache(maxsize=256)
def zone_named(name: str) -> tzinfo | None:
    """The tzinfo for a Graph time-zone name, or None when it is not one."""
    key = name.strip()
    if not key:
        return None
    if key.lower() in ("utc", "etc/utc", "coordinated universal time"):
        return UTC
    iana = _WINDOWS_LOWER.get(key.lower(), key)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        return None


_DATETIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?:\.(?P<frac>\d{1,7}))?(?P<offset>Z|[+-]\d{2}:\d{2})?$"
)


def parse_local(value: str, zone: tzinfo) -> datetime | None:
    """An aware datetime for ``value`` read in ``zone`` (an explicit offset wins)."""
    match = _DATETIME.match(value.strip())
    if match is None:
        return None
    frac = (match["frac"] or "").ljust(6, "0")[:6]
    offset = match["offset"] or ""
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}.{frac}")
    except ValueError:
        return None
    if offset == "Z":
        return moment.replace(tzinfo=UTC)
    if offset:
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        return moment.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))
    return moment.replace(tzinfo=zone)


def bad_zone(name: str) -> tuple[str, str]:
    """Graph's code and message for a time zone it does not know."""
    return (
        "TimeZoneNotSupportedException",
        "A valid TimeZone value must be specified. The following TimeZone value is not "
        f"supported: '{name}'.",
    )
