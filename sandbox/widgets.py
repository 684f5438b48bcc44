"""FakeWidgets: a small, typical SaaS API for the executor's tests and benchmarks.

Auth: ``Authorization: Bearer <api key>``; keys map to account ids. Every
resource belongs to one account and is invisible to the others.

Endpoints (JSON in and out):

- ``POST /v1/widgets`` ``{"name": str (1..200 chars), "color": str | null}``
  -> 201 ``{"id": "w_<n>", "account", "name", "color", "created_at"}``
  (``created_at`` is ISO-8601 UTC, ``...Z``). Unknown body fields are ignored.
- ``GET /v1/widgets/{id}`` -> 200 the widget.
- ``GET /v1/widgets?limit=&after=`` -> 200 ``{"data": [...], "next": <id> | null}``;
  oldest first, ``limit`` 1..100 (default 20); ``after`` is the ``next``
  cursor of the previous page (the id of its last widget).
- ``POST /v1/jobs`` ``{"widget_id": str?, "duration": seconds?}``
  -> 202 ``{"job_id": "j_<n>", "status": "running"}``. ``duration``
  defaults to the constructor's ``job_duration``.
- ``GET /v1/jobs/{id}`` -> 200 ``{"job_id", "widget_id", "status": "running" |
  "succeeded", "output": "job j_<n> done" | null, "finished_at": ISO | null}``;
  a job succeeds once ``duration`` has passed on the fake's clock.

Errors (always ``{"error", "message"}``, plus ``field`` on validation errors):

- 401 ``{"error": "invalid_api_key", "message": "The API key is not valid."}``
  (missing or unknown key; never echoes the key);
- 404 ``{"error": "not_found", "message": "Widget w_9 not found"}`` (also jobs,
  and ``"No such endpoint"`` for unknown paths); 405 ``method_not_allowed``;
- 422 ``{"error": "validation_error", "message": "...", "field": "<name>"}``
  (``field`` is ``"body"`` when the body is not a JSON object);
- 429 ``{"error": "rate_limited", "message": "..."}`` with ``Retry-After``.

Rate limit (``rate_limit=(max_requests, window_seconds)``): a true sliding
window per account over *admitted* requests, checked after authentication
(unauthenticated requests are refused with 401 and never counted) and before
routing. A refused request does not enter the window; ``Retry-After`` is the
whole number of seconds, rounded up, until the oldest admitted request leaves
it. Requests answered by an injected fault never reach the limiter.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from sandbox.core import FakeVendor, SandboxRequest, json_response, route

__all__ = ["FakeWidgets"]

_MAX_NAME = 200
_DEFAULT_LIMIT = 20
_MAX_LIMIT = 100


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, error: str, message: str, **extra: Any) -> httpx.Response:
    return json_response(status, {"error": error, "message": message, **extra})


def _invalid(field: str, message: str) -> httpx.Response:
    return _error(422, "validation_error", message, field=field)


@dataclass
class _Job:
    job_id: str
    account: str
    widget_id: str | None
    started_at: float
    duration: float
    started_epoch: float


class FakeWidgets(FakeVendor):
    """A stateful widgets vendor: API keys, widgets, slow jobs, per-account rate limit.

    ``api_keys`` maps API key -> account id. ``job_duration`` is the default
    seconds a job runs. ``rate_limit`` is ``(max_requests, window_seconds)``
    per account, or None for no limit; ``retry_after_header=False`` leaves
    ``Retry-After`` off 429s (for clients that must cope without it).
    """

    def __init__(
        self,
        api_keys: Mapping[str, str],
        *,
        job_duration: float = 1.0,
        rate_limit: tuple[int, float] | None = None,
        retry_after_header: bool = True,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        epoch_origin: float | None = None,
    ) -> None:
        super().__init__(clock=clock, sleep=sleep, epoch_origin=epoch_origin)
        if rate_limit is not None and (rate_limit[0] < 1 or rate_limit[1] <= 0):
            raise ValueError("rate_limit must be (max_requests >= 1, window_seconds > 0)")
        if job_duration < 0:
            raise ValueError("job_duration must be >= 0")
        self._api_keys = dict(api_keys)
        self.job_duration = job_duration
        self.rate_limit = rate_limit
        self.retry_after_header = retry_after_header
        self._widgets: dict[str, dict[str, Any]] = {}
        self._jobs: dict[str, _Job] = {}
        self._window: dict[str, deque[float]] = {}
        self._accepted: dict[str, list[float]] = {}
        self._refused: dict[str, int] = {}

    # -- helpers for tests and benchmarks -----------------------------------

    def add_api_key(self, key: str, account: str) -> None:
        """Accept ``key`` as a credential of ``account`` from now on."""
        with self._lock:
            self._api_keys[key] = account

    def widgets_created(self, account: str | None = None) -> list[dict[str, Any]]:
        """Every widget created (of one account, or all), oldest first."""
        with self._lock:
            return [
                dict(w)
                for w in self._widgets.values()
                if account is None or w["account"] == account
            ]

    def jobs_created(self, account: str | None = None) -> list[dict[str, Any]]:
        """Every job started (of one account, or all), as ``GET /v1/jobs/{id}`` shows it."""
        with self._lock:
            return [
                self._job_view(j)
                for j in self._jobs.values()
                if account is None or j.account == account
            ]

    def accepted_times(self, account: str) -> list[float]:
        """Clock times of every request of ``account`` admitted by the rate limiter."""
        with self._lock:
            return list(self._accepted.get(account, ()))

    def over_limit(self, account: str | None = None) -> int:
        """How many requests (of one account, or all) were refused with 429."""
        with self._lock:
            if account is not None:
                return self._refused.get(account, 0)
            return sum(self._refused.values())

    # -- auth and rate limit --------------------------------------------------

    def dispatch(self, req: SandboxRequest) -> httpx.Response:
        """Authenticate, apply the account's rate limit, then route."""
        scheme, _, key = req.headers.get("authorization", "").partition(" ")
        account = self._api_keys.get(key.strip()) if scheme.lower() == "bearer" else None
        if account is None:
            return _error(401, "invalid_api_key", "The API key is not valid.")
        refused = self._admit(account)
        if refused is not None:
            return refused
        req.context["account"] = account
        return super().dispatch(req)

    def _admit(self, account: str) -> httpx.Response | None:
        now = self.clock()
        if self.rate_limit is not None:
            limit, window = self.rate_limit
            admitted = self._window.setdefault(account, deque())
            while admitted and admitted[0] <= now - window:
                admitted.popleft()
            if len(admitted) >= limit:
                self._refused[account] = self._refused.get(account, 0) + 1
                wait = max(1, math.ceil(admitted[0] + window - now))
                headers = {"Retry-After": str(wait)} if self.retry_after_header else {}
                return json_response(
                    429,
                    {
                        "error": "rate_limited",
                        "message": f"Rate limit of {limit} requests per {window:g} s exceeded.",
                    },
                    headers=headers,
                )
            admitted.append(now)
        self._accepted.setdefault(account, []).append(now)
        return None

    # -- widgets ------------------------------------------------------------

    @route("POST", "/v1/widgets")
    def create_widget(self, req: SandboxRequest) -> httpx.Response:
        """``POST /v1/widgets``."""
        body = req.body
        if not req.is_json or not isinstance(body, dict):
            return _invalid("body", "The request body must be a JSON object.")
        name = body.get("name")
        if name is None:
            return _invalid("name", "name is required.")
        if not isinstance(name, str):
            return _invalid("name", "name must be a string.")
        if not 1 <= len(name) <= _MAX_NAME:
            return _invalid("name", f"name must be 1 to {_MAX_NAME} characters.")
        color = body.get("color")
        if color is not None and not isinstance(color, str):
            return _invalid("color", "color must be a string.")
        widget_id = f"w_{len(self._widgets) + 1}"
        widget = {
            "id": widget_id,
            "account": req.context["account"],
            "name": name,
            "color": color,
            "created_at": _iso(self.epoch()),
        }
        self._widgets[widget_id] = widget
        return json_response(201, widget)

    def _owned_widget(self, req: SandboxRequest, widget_id: str) -> dict[str, Any] | None:
        widget = self._widgets.get(widget_id)
        if widget is None or widget["account"] != req.context["account"]:
            return None
        return widget

    @route("GET", "/v1/widgets/{widget_id}")
    def get_widget(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v1/widgets/{id}``."""
        widget_id = req.path_params["widget_id"]
        widget = self._owned_widget(req, widget_id)
        if widget is None:
            return _error(404, "not_found", f"Widget {widget_id} not found")
        return json_response(200, widget)

    @route("GET", "/v1/widgets")
    def list_widgets(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v1/widgets?limit=&after=``."""
        raw_limit = req.arg("limit")
        limit = _DEFAULT_LIMIT
        if raw_limit is not None:
            try:
                limit = int(raw_limit)
            except ValueError:
                return _invalid("limit", "limit must be an integer.")
            if not 1 <= limit <= _MAX_LIMIT:
                return _invalid("limit", f"limit must be between 1 and {_MAX_LIMIT}.")
        mine = [w for w in self._widgets.values() if w["account"] == req.context["account"]]
        after = req.arg("after")
        start = 0
        if after:
            ids = [w["id"] for w in mine]
            if after not in ids:
                return _invalid("after", "after is not a valid cursor.")
            start = ids.index(after) + 1
        page = mine[start : start + limit]
        more = start + limit < len(mine)
        return json_response(200, {"data": page, "next": page[-1]["id"] if more else None})

    # -- jobs ---------------------------------------------------------------

    @route("POST", "/v1/jobs")
    def start_job(self, req: SandboxRequest) -> httpx.Response:
        """``POST /v1/jobs``."""
        body = req.body if req.body is not None else {}
        if not isinstance(body, dict):
            return _invalid("body", "The request body must be a JSON object.")
        widget_id = body.get("widget_id")
        if widget_id is not None:
            if not isinstance(widget_id, str):
                return _invalid("widget_id", "widget_id must be a string.")
            if self._owned_widget(req, widget_id) is None:
                return _error(404, "not_found", f"Widget {widget_id} not found")
        duration = body.get("duration", self.job_duration)
        if isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0:
            return _invalid("duration", "duration must be a number of seconds >= 0.")
        job = _Job(
            job_id=f"j_{len(self._jobs) + 1}",
            account=req.context["account"],
            widget_id=widget_id,
            started_at=self.clock(),
            duration=float(duration),
            started_epoch=self.epoch(),
        )
        self._jobs[job.job_id] = job
        return json_response(202, {"job_id": job.job_id, "status": "running"})

    @route("GET", "/v1/jobs/{job_id}")
    def get_job(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v1/jobs/{id}``."""
        job_id = req.path_params["job_id"]
        job = self._jobs.get(job_id)
        if job is None or job.account != req.context["account"]:
            return _error(404, "not_found", f"Job {job_id} not found")
        return json_response(200, self._job_view(job))

    def _job_view(self, job: _Job) -> dict[str, Any]:
        done = self.clock() >= job.started_at + job.duration
        return {
            "job_id": job.job_id,
            "widget_id": job.widget_id,
            "status": "succeeded" if done else "running",
            "output": f"job {job.job_id} done" if done else None,
            "finished_at": _iso(job.started_epoch + job.duration) if done else None,
        }
