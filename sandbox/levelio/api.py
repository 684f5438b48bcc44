"""Level's answer shapes, cursor paging, forced 429s: the base of the fake's parts.

- Errors: ``{"error": <message>}`` (Level's "Errors" reference page,
  https://levelapi.readme.io/reference/errors, which lists 400, 401, 404 and
  500 with a body ``{error: "Error message"}``). The messages are *(choice)*
  except 401's ``Access denied`` (vendors.md §2). An unknown route is 404
  ``Not found`` and a wrong method 405 ``Method not allowed`` *(choice)*.
- Lists: ``{"data": [...], "has_more": bool}`` with ``limit`` 1-100 (default
  20), ``starting_after`` / ``ending_before`` (an id of the list's own items;
  vendors.md §2). Out of range or not an integer -> **400** ``limit must be an
  integer between 1 and 100`` *(choice: Level documents 400 for bad requests
  and no 422)*. Both cursors at once -> 400; a cursor id that is not in the
  (filtered) list -> 400 ``No such object: <id>`` *(choice, as Stripe, whose
  paging this follows)*. ``ending_before=X`` answers the ``limit`` items just
  before X, and its ``has_more`` says whether more lie before them (Stripe's
  meaning). Lists are in creation order unless a route says otherwise *(choice)*.
- Timestamps: ISO 8601 UTC with milliseconds and ``Z`` (the form of
  ``occurred_at`` in Level's webhook docs), derived from the fake's clock.
- 429: Level says it answers 429 with ``Retry-After`` and publishes no quota
  (vendors.md §2), so the fake has no limiter; :meth:`LevelApi.force_429`
  makes the next N matching calls 429 ``{"error": "Too many requests"}``
  *(choice)* with ``Retry-After`` set to seconds, ``0``, an HTTP date, or absent.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import httpx

from sandbox.core import FakeVendor, Fault, SandboxRequest, json_response

__all__ = [
    "LIMIT_DEFAULT",
    "LIMIT_MAX",
    "LIMIT_MIN",
    "HasId",
    "LevelApi",
    "error",
    "iso",
]

LIMIT_DEFAULT = 20
LIMIT_MIN = 1
LIMIT_MAX = 100
ACCESS_DENIED = "Access denied"
TOO_MANY_REQUESTS = "Too many requests"


class HasId(Protocol):
    """Anything a cursor list pages over: it has a string ``id``."""

    @property
    def id(self) -> str: ...


_Item = TypeVar("_Item", bound=HasId)


def error(status: int, message: str, *, headers: dict[str, str] | None = None) -> httpx.Response:
    """Level's error answer: ``{"error": message}``."""
    return json_response(status, {"error": message}, headers=headers)


def iso(epoch: float) -> str:
    """An epoch as Level writes timestamps: ``2025-03-15T14:30:00.000Z``."""
    stamp = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def truthy(value: str | None) -> bool:
    """Whether a boolean query parameter is on (``true``, any case; else off) *(choice)*."""
    return value is not None and value.strip().lower() == "true"


class LevelApi(FakeVendor):
    """Level's error answers, cursor paging and forced 429s; every part of the fake has them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ids: dict[str, int] = {}

    def _new_id(self, prefix: str) -> str:
        """The next id of a kind: ``dev_1``, ``dev_2``... *(choice: Level's ids are opaque)*."""
        self._ids[prefix] = self._ids.get(prefix, 0) + 1
        return f"{prefix}_{self._ids[prefix]}"

    def epoch_at(self, clock_time: float) -> float:
        """The epoch seconds of a reading of the fake's clock."""
        return self.epoch() - (self.now() - clock_time)

    def iso_at(self, clock_time: float | None) -> str | None:
        """A clock reading as a Level timestamp (None stays None)."""
        return None if clock_time is None else iso(self.epoch_at(clock_time))

    # -- errors ---------------------------------------------------------------

    def not_found(self, req: SandboxRequest) -> httpx.Response:
        """No route matches."""
        return error(404, "Not found")

    def method_not_allowed(self, req: SandboxRequest, allowed: list[str]) -> httpx.Response:
        """A known path with a method it does not serve."""
        return error(405, "Method not allowed", headers={"Allow": ", ".join(allowed)})

    # -- cursor lists -----------------------------------------------------------

    def cursor_page(
        self,
        req: SandboxRequest,
        items: Sequence[_Item],
        view: Callable[[_Item], Any],
    ) -> httpx.Response:
        """One page of ``items`` as ``{"data", "has_more"}``, per the request's paging params."""
        raw_limit = req.arg("limit")
        try:
            limit = LIMIT_DEFAULT if raw_limit is None else int(raw_limit)
        except ValueError:
            limit = 0
        if not LIMIT_MIN <= limit <= LIMIT_MAX:
            return error(400, f"limit must be an integer between {LIMIT_MIN} and {LIMIT_MAX}")
        after, before = req.arg("starting_after"), req.arg("ending_before")
        if after and before:
            return error(400, "starting_after and ending_before cannot be used together")
        ids = [item.id for item in items]
        cursor = after or before
        if cursor and cursor not in ids:
            return error(400, f"No such object: {cursor}")
        if after:
            start = ids.index(after) + 1
            chunk, has_more = items[start : start + limit], start + limit < len(items)
        elif before:
            end = ids.index(before)
            start = max(0, end - limit)
            chunk, has_more = items[start:end], start > 0
        else:
            chunk, has_more = items[:limit], limit < len(items)
        return json_response(200, {"data": [view(item) for item in chunk], "has_more": has_more})

    # -- 429 ----------------------------------------------------------------------

    def force_429(
        self,
        times: int | None = 1,
        *,
        retry_after: float | str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching calls with 429 (a shared :class:`Fault`).

        ``retry_after``: a number of seconds (``0`` included) is sent as an
        integer when whole; a string (e.g. :meth:`http_date`) is sent as is;
        None sends no ``Retry-After``. ``method``/``path`` as for faults.
        """
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = retry_after_value(retry_after)
        fault = Fault(status=429, body={"error": TOO_MANY_REQUESTS}, headers=headers)
        self.inject(fault, method=method, path=path, times=times)

    def http_date(self, seconds_from_now: float) -> str:
        """An HTTP date (IMF-fixdate) ``seconds_from_now`` on the fake's epoch."""
        return email.utils.formatdate(self.epoch() + seconds_from_now, usegmt=True)


def retry_after_value(value: float | str) -> str:
    """How a ``Retry-After`` value is written: whole seconds as an integer, text as is."""
    if isinstance(value, str):
        return value
    if value < 0:
        raise ValueError("Retry-After seconds must be >= 0")
    return str(int(value)) if float(value).is_integer() else str(value)
