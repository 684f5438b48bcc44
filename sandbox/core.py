"""The shared fake-server framework: one stateful app, served in-process or on loopback.

A fake vendor is a subclass of :class:`FakeVendor`. It declares its routes with
:func:`route` and answers with ordinary ``httpx.Response`` objects, so it reads
like a small web app::

    class FakeThings(FakeVendor):
        @route("GET", "/v1/things/{thing_id}")
        def get_thing(self, req: SandboxRequest) -> httpx.Response:
            return json_response(200, {"id": req.path_params["thing_id"]})

The same app is used two ways:

- in-process: ``httpx.Client(transport=fake.transport(), base_url="http://fake")``
  (unit tests, benchmarks);
- over real HTTP/1.1 on loopback: ``with fake.serve() as server: server.base_url``
  (integration tests, the demo, people building workflows offline).

Every fake also answers a small control surface under ``/__sandbox/``, which
is never logged, never faulted and never rate-limited:

- ``GET /__sandbox/requests`` -> ``{"requests": [...]}``: the request log
  (optional ``?method=`` and ``?path=`` filters, same matching as faults).
  Credential values are redacted in this export (see :data:`REDACTED`);
- ``POST /__sandbox/faults`` with a JSON object ``{"status", "body", "headers",
  "delay", "disconnect", "after", "method", "path", "times"}`` (all optional; ``times``
  defaults to 1, ``null`` = until cleared) -> 201 ``{"ok": true}``;
  a malformed one -> 400 ``{"error": "invalid_fault", "message": ...}``;
- ``DELETE /__sandbox/faults`` -> 200 ``{"ok": true}``: clear faults;
- ``POST /__sandbox/reset`` -> 200 ``{"ok": true}``: clear the log and the faults;
- a fake may add its own (:meth:`FakeVendor.control`), e.g. FakeNinjaOne's
  ``POST /__sandbox/credentials``, which mints a fresh credential set.

Time: every fake takes ``clock`` (default ``time.monotonic``) and ``sleep``
(default ``time.sleep``). Delays, token expiry, job completion and rate
windows all read that clock, so tests drive time with :class:`ManualClock`
instead of sleeping. Epoch timestamps that vendors return are derived from
the same clock (:meth:`FakeVendor.epoch`), so they move with it too.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, parse_qsl

import httpx

__all__ = [
    "CONTROL_ENDPOINTS",
    "REDACTED",
    "FakeVendor",
    "Fault",
    "ManualClock",
    "RecordedRequest",
    "RunningServer",
    "SandboxRequest",
    "empty_response",
    "json_response",
    "route",
]

REDACTED = "***"

CONTROL_ENDPOINTS: tuple[tuple[str, str, str], ...] = (
    ("GET", "/__sandbox/requests", "the request log (?method=, ?path=; credentials redacted)"),
    (
        "POST",
        "/__sandbox/faults",
        'inject a fault: {"status", "body", "headers", "delay", "disconnect", "after", '
        '"method", "path", "times"}',
    ),
    ("DELETE", "/__sandbox/faults", "clear the faults"),
    ("POST", "/__sandbox/reset", "clear the request log and the faults"),
)
"""Every fake's control endpoints: (method, path, what it does), as the docstring says."""
"""What the HTTP export of the request log shows instead of a credential value."""

# Form/JSON body fields whose values are credentials. The in-memory log keeps
# them (tests assert what a client sent); the HTTP export hides them because a
# sandbox may be fed real-looking secrets by someone trying patchbay out.
_SECRET_FIELDS = frozenset(
    {
        "client_secret",
        "refresh_token",
        "access_token",
        "code",
        "password",
        "token",
        "api_key",
        "api_secret",
        "secret",
        "twofactor",
    }
)
_SECRET_HEADERS = frozenset({"authorization", "cookie", "x-api-key", "proxy-authorization"})
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})
_GLOB_CHARS = frozenset("*?[")


class ManualClock:
    """A clock that only moves when told to: ``advance(s)`` or ``sleep(s)``.

    Pass it as ``clock=`` to a fake (its ``sleep`` is then used by default),
    and as the client's clock/sleep where the client takes one. Thread-safe.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self.sleeps: list[float] = []
        """Every duration passed to :meth:`sleep`, in order."""

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        """Record the sleep and advance by it, returning at once."""
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(0.0, seconds)


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or before) the vendor's normal answer.

    - ``status`` set: answer with that status, ``body`` (dict/list -> JSON,
      str -> text/plain, bytes -> as is, None -> empty) and ``headers``; the
      vendor's handler does not run and its state does not change.
    - ``status`` None: only wait ``delay`` seconds, then the handler answers.
    - ``delay``: seconds to wait (through the fake's ``sleep``) before answering.
    - ``disconnect``: drop the connection instead of sending any response. With
      ``status`` None the handler still runs first, so the vendor *did* act
      and the caller never hears about it (the "outcome unknown" case);
      in-process this raises ``httpx.RemoteProtocolError`` in the client.
    - ``after``: with ``status`` set, the handler runs first (the vendor acts)
      and its answer is replaced by the injected one: a 5xx after the effect.
    """

    status: int | None = None
    body: Any = None
    headers: dict[str, str] | None = None
    delay: float = 0.0
    disconnect: bool = False
    after: bool = False

    def response(self) -> httpx.Response:
        """The injected response (only meaningful when ``status`` is set)."""
        status = self.status if self.status is not None else 200
        headers = dict(self.headers or {})
        if isinstance(self.body, bytes):
            return httpx.Response(status, content=self.body, headers=headers)
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return httpx.Response(status, content=self.body.encode(), headers=headers)
        if self.body is None:
            return httpx.Response(status, headers=headers)
        return json_response(status, self.body, headers=headers)


@dataclass
class _FaultRule:
    fault: Fault
    method: str | None
    path: str | None
    remaining: int | None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or path_matches(self.path, path)


def path_matches(pattern: str, path: str) -> bool:
    """Whether ``path`` matches a fault/log filter ``pattern``.

    A pattern without glob characters (``*``, ``?``, ``[``) must equal the path
    exactly. With them it is an ``fnmatch`` glob over the whole path, where
    ``*`` also crosses ``/``: ``/v2/*`` matches every path under ``/v2/`` and
    ``/v2/device/*/script/run`` matches any device's script run. The query
    string is never part of the path.
    """
    if _GLOB_CHARS.isdisjoint(pattern):
        return pattern == path
    return fnmatch.fnmatchcase(path, pattern)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the vendor saw it, and how it was answered.

    ``headers`` has lower-cased names. ``body`` is the parsed JSON value, a
    ``dict[str, str]`` for form bodies, the text for anything else, or None
    when empty. ``timestamp`` is the fake's clock when the request arrived.
    ``status`` is None when the connection was dropped by a fault; ``fault``
    says whether an injected fault changed the answer (status or disconnect).
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    timestamp: float
    status: int | None
    fault: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict with credential values redacted."""
        headers = {
            name: _redact_header(value) if name in _SECRET_HEADERS else value
            for name, value in self.headers.items()
        }
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": headers,
            "body": _redact_body(self.body),
            "timestamp": self.timestamp,
            "status": self.status,
            "fault": self.fault,
        }


def _redact_header(value: str) -> str:
    scheme, _, rest = value.partition(" ")
    return f"{scheme} {REDACTED}" if rest else REDACTED


def _redact_body(body: Any) -> Any:
    if isinstance(body, dict):
        return {
            k: REDACTED if k in _SECRET_FIELDS and v is not None else _redact_body(v)
            for k, v in body.items()
        }
    if isinstance(body, list):
        return [_redact_body(v) for v in body]
    return body


class SandboxRequest:
    """The request a route handler sees: parsed once, with its path parameters."""

    def __init__(self, raw: httpx.Request) -> None:
        self.raw = raw
        self.method = raw.method.upper()
        self.path = raw.url.path
        self.query: dict[str, list[str]] = parse_qs(
            raw.url.query.decode("ascii", "replace"), keep_blank_values=True
        )
        self.headers = raw.headers
        self.content = raw.content
        self.path_params: dict[str, str] = {}
        self.context: dict[str, Any] = {}
        """Per-request values a fake's :meth:`FakeVendor.dispatch` hands its handlers."""
        self.is_json = False
        self.body: Any = self._parse_body()

    def _parse_body(self) -> Any:
        if not self.content:
            return None
        ctype = self.headers.get("content-type", "").split(";")[0].strip().lower()
        text = self.content.decode("utf-8", "replace")
        if ctype == "application/x-www-form-urlencoded":
            return dict(parse_qsl(text, keep_blank_values=True))
        if ctype == "application/json" or ctype.endswith("+json"):
            try:
                value = json.loads(text)
            except ValueError:
                return text
            self.is_json = True
            return value
        return text

    def arg(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or None."""
        values = self.query.get(name)
        return values[0] if values else None


Handler = Callable[[SandboxRequest], httpx.Response]
_H = TypeVar("_H", bound=Callable[..., httpx.Response])
_ROUTES_ATTR = "_sandbox_routes"


def route(method: str, pattern: str) -> Callable[[_H], _H]:
    """Mark a :class:`FakeVendor` method as the handler of ``method pattern``.

    ``pattern`` is a path whose ``{name}`` segments match one path segment
    (no ``/``) and arrive URL-decoded in ``req.path_params[name]``. A method
    may carry several routes.
    """

    def mark(func: _H) -> _H:
        func.__dict__.setdefault(_ROUTES_ATTR, []).append((method.upper(), pattern))
        return func

    return mark


@dataclass
class _Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler


def _compile(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", pattern)
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


def json_response(
    status: int, data: Any, *, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """A response with a compact JSON body and ``Content-Type: application/json``."""
    body = json.dumps(data, separators=(",", ":")).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return httpx.Response(status, content=body, headers=all_headers)


def empty_response(
    status: int = 204, *, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """A response with no body."""
    return httpx.Response(status, headers=dict(headers or {}))


class FakeVendor:
    """Base class of every fake vendor: routing, request log, faults, clock, serving.

    Subclasses declare routes with :func:`route`, may override :meth:`dispatch`
    to run checks (auth, rate limits) before routing, and may override
    :meth:`not_found` / :meth:`method_not_allowed` to answer in the vendor's
    error shape. Route handlers run under the fake's lock (an ``RLock``), so
    they can read and change state freely; injected delays are slept outside
    it, so a slow request does not block others on the real server.

    ``clock``/``sleep`` default to ``time.monotonic``/``time.sleep``; given a
    :class:`ManualClock` and no ``sleep``, the clock's own ``sleep`` is used,
    so injected delays advance fake time instead of blocking. ``epoch_origin``
    is the epoch time at construction (default ``time.time()``).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        epoch_origin: float | None = None,
    ) -> None:
        self.clock: Callable[[], float] = clock or time.monotonic
        if sleep is None:
            sleep = clock.sleep if isinstance(clock, ManualClock) else time.sleep
        self.sleep: Callable[[float], None] = sleep
        self._lock = threading.RLock()
        self._clock_origin = self.clock()
        self._epoch_origin = time.time() if epoch_origin is None else epoch_origin
        self._log: list[RecordedRequest] = []
        self._faults: list[_FaultRule] = []
        self._routes: list[_Route] = []
        seen: set[str] = set()
        for klass in type(self).__mro__:
            for name, attr in vars(klass).items():
                if name in seen or not callable(attr):
                    continue
                seen.add(name)
                for method, pattern in getattr(attr, _ROUTES_ATTR, ()):
                    self.add_route(method, pattern, getattr(self, name))

    # -- time ---------------------------------------------------------------

    def now(self) -> float:
        """The fake's clock."""
        return self.clock()

    def epoch(self) -> float:
        """Wall-clock epoch seconds that move with the fake's clock.

        ``epoch_origin`` (default: ``time.time()`` at construction) plus the
        clock's progress since construction.
        """
        return self._epoch_origin + (self.clock() - self._clock_origin)

    # -- routing ------------------------------------------------------------

    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method pattern`` (what :func:`route` does)."""
        self._routes.append(_Route(method.upper(), pattern, _compile(pattern), handler))

    @property
    def routes(self) -> list[tuple[str, str]]:
        """Every ``(method, pattern)`` this fake serves, in registration order."""
        return [(r.method, r.pattern) for r in self._routes]

    def dispatch(self, req: SandboxRequest) -> httpx.Response:
        """Route ``req`` to its handler. Runs under the lock.

        Override to check auth or limits first, then call ``super().dispatch``.
        """
        allowed: list[str] = []
        fallback: tuple[_Route, re.Match[str]] | None = None
        for r in self._routes:
            m = r.regex.match(req.path)
            if m is None:
                continue
            if r.method != req.method:
                allowed.append(r.method)
                if req.method == "HEAD" and r.method == "GET" and fallback is None:
                    fallback = (r, m)
                continue
            req.path_params = dict(m.groupdict())
            return r.handler(req)
        if fallback is not None:
            # HEAD is GET without the body; the HTTP server drops the body.
            req.path_params = dict(fallback[1].groupdict())
            return fallback[0].handler(req)
        if allowed:
            return self.method_not_allowed(req, sorted(set(allowed)))
        return self.not_found(req)

    def not_found(self, req: SandboxRequest) -> httpx.Response:
        """The answer for a path no route matches."""
        return json_response(404, {"error": "not_found", "message": "No such endpoint"})

    def method_not_allowed(self, req: SandboxRequest, allowed: list[str]) -> httpx.Response:
        """The answer for a known path with a method it does not serve."""
        return json_response(
            405,
            {"error": "method_not_allowed", "message": "Method not allowed"},
            headers={"Allow": ", ".join(allowed)},
        )

    # -- the app ------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request: control surface, faults, then :meth:`dispatch`.

        Raises ``httpx.RemoteProtocolError`` when a ``disconnect`` fault drops
        the connection (what an httpx client sees when that happens for real).
        """
        request.read()
        req = SandboxRequest(request)
        if req.path.startswith("/__sandbox/"):
            with self._lock:
                return self._control(req)
        arrived = self.clock()
        with self._lock:
            fault = self._take_fault(req.method, req.path)
        if fault is not None and fault.delay > 0:
            self.sleep(fault.delay)
        dropped = fault is not None and fault.disconnect
        with self._lock:
            # Answer and log under one lock so the log's order is the order
            # in which the vendor's state changed.
            response: httpx.Response | None
            if fault is None or fault.status is None:
                response = self.dispatch(req)
            else:
                if fault.after:
                    self.dispatch(req)  # the vendor acts; its answer is lost
                response = None if dropped else fault.response()
            self._log.append(
                RecordedRequest(
                    method=req.method,
                    path=req.path,
                    query=req.query,
                    headers={k.lower(): v for k, v in req.headers.items()},
                    body=req.body,
                    timestamp=arrived,
                    status=None if response is None or dropped else response.status_code,
                    fault=fault is not None and (fault.status is not None or dropped),
                )
            )
        if dropped or response is None:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return response

    def transport(self) -> httpx.MockTransport:
        """An httpx transport that calls this app in-process."""
        return httpx.MockTransport(self.handle)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
        """Serve this app over HTTP/1.1 on ``host:port`` (0 = any free port).

        Returns at once; the server runs in a daemon thread until ``stop()``.
        """
        return RunningServer(self, host, port)

    # -- request log ----------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request served (control-surface calls excluded)."""
        with self._lock:
            return list(self._log)

    def calls(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Logged requests with that method and path (pattern as for faults)."""
        method = method.upper() if method else None
        return [
            r
            for r in self.requests
            if (method is None or r.method == method)
            and (path is None or path_matches(path, r.path))
        ]

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many logged requests :meth:`calls` would return."""
        return len(self.calls(method, path))

    # -- faults -------------------------------------------------------------

    def inject(
        self,
        fault: Fault,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int | None = 1,
    ) -> None:
        """Apply ``fault`` to the next ``times`` matching requests (None = until cleared).

        ``method`` None matches any method; ``path`` None matches any path,
        otherwise see :func:`path_matches` (exact, or a glob). Faults are
        tried in the order injected; a request consumes one use of the first
        that matches. Requests answered by a fault are still logged.
        """
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        if fault.delay < 0:
            raise ValueError("delay must be >= 0")
        with self._lock:
            self._faults.append(_FaultRule(fault, method.upper() if method else None, path, times))

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for rule in self._faults:
            if rule.matches(method, path):
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._faults.remove(rule)
                return rule.fault
        return None

    def reset(self) -> None:
        """Clear the request log and the faults (the vendor's own data stays)."""
        with self._lock:
            self._log.clear()
            self._faults.clear()

    # -- control surface ------------------------------------------------------

    def _control(self, req: SandboxRequest) -> httpx.Response:
        key = (req.method, req.path)
        if key == ("GET", "/__sandbox/requests"):
            found = self.calls(req.arg("method"), req.arg("path"))
            return json_response(200, {"requests": [r.to_json() for r in found]})
        if key == ("POST", "/__sandbox/faults"):
            try:
                fault, method, path, times = _parse_fault(req.body)
            except ValueError as exc:
                return json_response(400, {"error": "invalid_fault", "message": str(exc)})
            self.inject(fault, method=method, path=path, times=times)
            return json_response(201, {"ok": True})
        if key == ("DELETE", "/__sandbox/faults"):
            self.clear_faults()
            return json_response(200, {"ok": True})
        if key == ("POST", "/__sandbox/reset"):
            self.reset()
            return json_response(200, {"ok": True})
        own = self.control(req)
        if own is not None:
            return own
        return json_response(404, {"error": "not_found", "message": "No such control endpoint"})

    control_endpoints: tuple[tuple[str, str, str], ...] = ()
    """This fake's own control endpoints (method, path, what it does), served by :meth:`control`."""

    def control(self, req: SandboxRequest) -> httpx.Response | None:
        """A fake's own ``/__sandbox/...`` endpoints (runs under the lock); None: not one."""
        return None


_FAULT_KEYS = frozenset(
    {"status", "body", "headers", "delay", "disconnect", "after", "method", "path", "times"}
)


def _parse_fault(body: Any) -> tuple[Fault, str | None, str | None, int | None]:
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    unknown = set(body) - _FAULT_KEYS
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    status = body.get("status")
    if status is not None and (type(status) is not int or not 100 <= status <= 599):
        raise ValueError("status must be an HTTP status code or null")
    headers = body.get("headers")
    if headers is not None and (
        not isinstance(headers, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        raise ValueError("headers must be an object of strings")
    delay = body.get("delay", 0.0)
    if type(delay) not in (int, float) or delay < 0:
        raise ValueError("delay must be a number >= 0")
    disconnect = body.get("disconnect", False)
    if not isinstance(disconnect, bool):
        raise ValueError("disconnect must be a boolean")
    after = body.get("after", False)
    if not isinstance(after, bool):
        raise ValueError("after must be a boolean")
    method, path = body.get("method"), body.get("path")
    if method is not None and not isinstance(method, str):
        raise ValueError("method must be a string or null")
    if path is not None and not isinstance(path, str):
        raise ValueError("path must be a string or null")
    times = body.get("times", 1)
    if times is not None and (type(times) is not int or times < 1):
        raise ValueError("times must be an integer >= 1 or null")
    fault = Fault(
        status=status,
        body=body.get("body"),
        headers=headers,
        delay=float(delay),
        disconnect=disconnect,
        after=after,
    )
    return fault, method, path, times


# -- real HTTP ----------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks its connections and threads so stop() can end them.

    Request threads are daemons (a fake nobody stopped must not keep the
    interpreter alive), which socketserver does not join; so they are
    tracked here and joined by :meth:`RunningServer.stop`.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: FakeVendor) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._workers: list[threading.Thread] = []
        self._open_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Runs in the serving thread, so once shutdown() has returned every
        # live connection and its thread are known here.
        worker = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"{threading.current_thread().name}-conn",
            daemon=True,
        )
        with self._open_lock:
            self._open.add(request)
            self._workers = [w for w in self._workers if w.is_alive()]
            self._workers.append(worker)
        worker.start()

    def join_workers(self) -> None:
        with self._open_lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.join()

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away mid-response is normal for a test server.
        pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without TCP_NODELAY a keep-alive answer written in two sends (headers, then
    # body) waits on the client's delayed ACK: ~40 ms per request on loopback.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        body = self._read_body()
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
        request = httpx.Request(
            self.command, f"http://{host}{self.path}", headers=headers, content=body
        )
        try:
            response = self.server.app.handle(request)
        except httpx.RemoteProtocolError:
            self.close_connection = True
            return
        except Exception as exc:
            response = json_response(
                500, {"error": "sandbox_internal_error", "message": type(exc).__name__}
            )
        content = response.content
        self.send_response(response.status_code)
        for name, value in response.headers.multi_items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD" and content:
            self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


@dataclass
class RunningServer:
    """A fake served on loopback; a context manager that stops it on exit."""

    app: FakeVendor
    host: str
    port: int
    base_url: str = field(init=False)
    _server: _HTTPServer = field(init=False, repr=False)
    _thread: threading.Thread = field(init=False, repr=False)
    _stopped: bool = field(init=False, default=False, repr=False)

    def __post_init__(self) -> None:
        self._server = _HTTPServer((self.host, self.port), self.app)
        self.port = int(self._server.server_address[1])
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{type(self.app).__name__}-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close every connection and join every thread. Idempotent.

        Waits for requests in flight (including injected delays) to finish.
        """
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.close_open_connections()
        self._server.join_workers()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
