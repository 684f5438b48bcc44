"""Huntress's answer shapes, query validation and token paging: the base of the fake's parts.

- Errors: ``{"error": <message>}``, the JSON shape of Grape (the framework
  the spec comes from: grape-swagger key order, ``getV1...`` operation ids),
  vendors.md §3 ("the error body is a JSON message"). Messages the spec
  declares are used verbatim (409/422 of resolution, approval, rejection;
  403's "There was an issue with your API credential or permissions.");
  the rest are *(choice)*: 401 ``Unauthorized``, 404 ``Not Found``, 405
  ``405 Not Allowed`` (Grape's), 429 ``Too Many Requests``.
- Query validation (spec: ``limit`` int32 1-500 default 10, ``page_token``,
  ``sort_field``/``sort_direction`` enums, each list's filters): a value
  outside an enum or range -> **400** ``<name> does not have a valid value``,
  a non-integer -> 400 ``<name> is invalid`` (Grape's default messages;
  the status is the spec's "400: There is an unexpected value in the API
  request"). Several problems are joined with ``, `` as Grape does.
  Undeclared parameters are ignored, as Grape ignores them. Array
  parameters (``types[]``, ``statuses[]``) take a comma-separated string,
  as the spec says; repeating the parameter also works *(choice)*.
- Paging (spec's "Pagination" section): ``{<plural>: [...], "pagination":
  {...}}``; ``pagination`` has ``next_page_token`` and ``next_page_url``
  only when another page exists, and is ``{}`` on the last page (the spec's
  ``Pagination`` model is not nullable, so absent rather than null
  *(choice)*). The token is opaque: URL-safe base64, without padding, of
  the last item's sort key (the spec's example token decodes to a
  timestamp). ``next_page_url`` repeats the request's own query (filters,
  sort, ``limit``) with the new token, so following it keeps the filters
  *(choice: the spec says it carries "the next page and the limit")*;
  ``limit`` is always in it. A token that does not decode -> 400
  ``page_token is invalid`` *(choice)*.
- Sorting: by ``sort_field`` (default ``id``) in ``sort_direction``
  (default ``desc``), ties broken by id in the same direction.
- Timestamps: ISO 8601 UTC to the second with ``Z`` (the spec's examples,
  ``2022-03-01T18:54:02Z``), derived from the fake's clock.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx

from sandbox.core import FakeVendor, SandboxRequest, json_response

__all__ = [
    "FORBIDDEN",
    "INT32_MAX",
    "LIMIT_DEFAULT",
    "LIMIT_MAX",
    "LIMIT_MIN",
    "PAGING_PARAMS",
    "SORT_DIRECTIONS",
    "ApiError",
    "HuntressApi",
    "Param",
    "error",
    "iso",
]

LIMIT_DEFAULT = 10
LIMIT_MIN = 1
LIMIT_MAX = 500
INT32_MAX = 2**31 - 1
SORT_DIRECTIONS = ("asc", "desc")
FORBIDDEN = "There was an issue with your API credential or permissions."
NOT_FOUND = "Not Found"


class ApiError(Exception):
    """Raised by a handler to answer ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error(status: int, message: str, *, headers: Mapping[str, str] | None = None) -> httpx.Response:
    """Huntress's error answer: ``{"error": message}``."""
    return json_response(status, {"error": message}, headers=headers)


def iso(epoch: float | None) -> str | None:
    """An epoch as Huntress writes timestamps (``2022-03-01T18:54:02Z``); None stays None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Param:
    """A query parameter a list route declares, as the spec declares it.

    ``kind``: ``"integer"`` (int32), ``"string"``, or ``"array"`` (of strings,
    comma-separated). ``values``: the enum (for an array, of its items).
    ``minimum``/``maximum``/``default`` as in the spec.
    """

    name: str
    kind: str = "string"
    values: tuple[str, ...] | None = None
    default: str | int | None = None
    minimum: int | None = None
    maximum: int | None = None


def sort_params(*fields: str) -> tuple[Param, ...]:
    """``limit``, ``page_token``, ``sort_field`` (over ``fields``), ``sort_direction``."""
    return (
        Param("limit", "integer", default=LIMIT_DEFAULT, minimum=LIMIT_MIN, maximum=LIMIT_MAX),
        Param("page_token"),
        Param("sort_field", values=fields, default="id"),
        Param("sort_direction", values=SORT_DIRECTIONS, default="desc"),
    )


PAGING_PARAMS = sort_params("id", "created_at", "updated_at")
"""The paging and sorting parameters most lists declare."""

_Item = TypeVar("_Item")


def _parse(req: SandboxRequest, params: Sequence[Param]) -> dict[str, Any]:
    """The declared parameters' values (defaults filled in); ApiError(400) when invalid."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for param in params:
        raw = req.query.get(param.name)
        if not raw:
            values[param.name] = [] if param.kind == "array" else param.default
            continue
        if param.kind == "array":
            items = [part for value in raw for part in value.split(",") if part]
            if param.values is not None and any(i not in param.values for i in items):
                problems.append(f"{param.name} does not have a valid value")
            values[param.name] = items
            continue
        text = raw[0]
        if param.kind == "integer":
            try:
                number = int(text)
            except ValueError:
                problems.append(f"{param.name} is invalid")
                continue
            low = param.minimum if param.minimum is not None else -(2**31)
            high = param.maximum if param.maximum is not None else INT32_MAX
            if not low <= number <= high:
                problems.append(f"{param.name} does not have a valid value")
            values[param.name] = number
            continue
        if param.values is not None and text not in param.values:
            problems.append(f"{param.name} does not have a valid value")
        values[param.name] = text
    if problems:
        raise ApiError(400, ", ".join(problems))
    return values


def _encode_token(key: list[Any]) -> str:
    raw = json.dumps(key, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError):
        raise ApiError(400, "page_token is invalid") from None
    if not (isinstance(key, list) and len(key) == 2 and isinstance(key[1], int)):
        raise ApiError(400, "page_token is invalid")
    return key


class HuntressApi(FakeVendor):
    """Huntress's error answers, query validation and token paging; every part has them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._counters: dict[str, int] = {}

    def _new_id(self, kind: str, start: int) -> int:
        """The next integer id of a kind, counting from ``start`` *(choice)*."""
        self._counters[kind] = self._counters.get(kind, start - 1) + 1
        return self._counters[kind]

    def epoch_ago(self, seconds: float) -> float:
        """Epoch seconds ``seconds`` before now on the fake's clock."""
        return self.epoch() - seconds

    # -- errors ---------------------------------------------------------------

    def dispatch(self, req: SandboxRequest) -> httpx.Response:
        """Route, turning an :class:`ApiError` a handler raised into its answer."""
        try:
            return super().dispatch(req)
        except ApiError as exc:
            return error(exc.status, exc.message)

    def not_found(self, req: SandboxRequest) -> httpx.Response:
        """No route matches."""
        return error(404, NOT_FOUND)

    def method_not_allowed(self, req: SandboxRequest, allowed: list[str]) -> httpx.Response:
        """A known path with a method it does not serve (Grape's 405)."""
        return error(405, "405 Not Allowed", headers={"Allow": ", ".join(allowed)})

    # -- query and paging -------------------------------------------------------

    @staticmethod
    def query(req: SandboxRequest, params: Sequence[Param]) -> dict[str, Any]:
        """The request's values of ``params``; raises ApiError(400) when one is invalid."""
        return _parse(req, params)

    @staticmethod
    def path_id(req: SandboxRequest, name: str = "id") -> int:
        """An int32 path parameter; anything else is a missing resource (404) *(choice)*."""
        try:
            value = int(req.path_params[name])
        except ValueError:
            raise ApiError(404, NOT_FOUND) from None
        if not 0 <= value <= INT32_MAX:
            raise ApiError(404, NOT_FOUND)
        return value

    def page(
        self,
        req: SandboxRequest,
        plural: str,
        items: Sequence[_Item],
        args: Mapping[str, Any],
        *,
        key: Callable[[_Item, str], Any],
        item_id: Callable[[_Item], int],
        view: Callable[[_Item], Any],
    ) -> httpx.Response:
        """One page of ``items`` as ``{plural: [...], "pagination": {...}}``.

        ``args`` are the parsed paging params; ``key(item, sort_field)`` is an
        item's sort value (a number or a string), ``item_id`` its id.
        """
        field, descending = args["sort_field"], args["sort_direction"] == "desc"
        limit: int = args["limit"]

        def sort_key(item: _Item) -> tuple[Any, int]:
            return (key(item, field), item_id(item))

        ordered = sorted(items, key=sort_key, reverse=descending)
        token = args["page_token"]
        if token:
            after = tuple(_decode_token(token))
            if descending:
                ordered = [i for i in ordered if _before(sort_key(i), after)]
            else:
                ordered = [i for i in ordered if _before(after, sort_key(i))]
        chunk = ordered[:limit]
        pagination: dict[str, str] = {}
        if len(ordered) > limit:
            next_token = _encode_token(list(sort_key(chunk[-1])))
            pagination = {
                "next_page_url": self._next_url(req, next_token, limit),
                "next_page_token": next_token,
            }
        return json_response(200, {plural: [view(i) for i in chunk], "pagination": pagination})

    @staticmethod
    def _next_url(req: SandboxRequest, token: str, limit: int) -> str:
        url = req.raw.url
        query = [
            (name, value)
            for name, values in req.query.items()
            if name not in ("page_token", "limit")
            for value in values
        ]
        query += [("page_token", token), ("limit", str(limit))]
        return f"{url.scheme}://{url.netloc.decode()}{url.path}?{urlencode(query)}"


def _before(a: tuple[Any, int], b: tuple[Any, int]) -> bool:
    """Whether sort key ``a`` orders strictly before ``b`` (a token's types may differ)."""
    try:
        return bool(a < b)
    except TypeError:
        raise ApiError(400, "page_token is invalid") from None
